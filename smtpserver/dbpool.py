"""The process's pool of database threads for SMTP sessions (moxweb.dbpool), shared by
every SMTP listener in it.

A session used to have a thread and a database connection of its own, opened at its
first database call and closed at its end; a sender connecting once per message (as
most do) paid both for every message: a SQLite connection starts with a cold page cache
and reads the schema and the indexes it needs again. With pooled threads the
connections stay open and warm: in the SMTP ingest benchmark (smtp-source, 20
sessions, one connection per message, one SMTP process) 600-690 msg/s became 830-850.
"""
from __future__ import annotations

from moxweb.dbpool import DBPool

# Threads (so database connections) at most. A delivery holds its thread until its
# group commit is done (mailstore.groupcommit), so the pool bounds how many deliveries
# one commit can carry: with 20 sessions, 8, 16 and 24 threads gave 815, 838 and 850
# msg/s (2, 4: 531, 653).
SIZE = 16
# Seconds the connections stay open after the last session ended: a sender delivering
# one message per connection, one at a time, still finds them open.
LINGER = 1.0

pool = DBPool(SIZE, name="smtp-db", linger=LINGER)
