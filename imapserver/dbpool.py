"""The process's pool of database threads for IMAP sessions (moxweb.dbpool), shared by
every IMAP listener in it."""
from __future__ import annotations

from moxweb.dbpool import DBPool

# Threads (so database connections) at most. Few: the jobs are mostly Python (the GIL),
# and threads beyond a few only contend for it and for SQLite's write lock. In the
# mixed-workload benchmark (10 clients, SQLite) 2, 3 and 4 threads gave 910, 969 and
# 931 ops/s (within noise; earlier, with heavier jobs, 8 threads lost a third); 3 keeps
# one long command (SEARCH BODY on a large mailbox) from stalling every other session.
SIZE = 3

pool = DBPool(SIZE, name="imap-db")
