"""What the web benchmarks share: each database runs in a child process of the script
(Django is configured once per process) with fresh data, SQLite in a temporary
directory or PostgreSQL in the `moxweb_w` database, dropped and created again."""
from __future__ import annotations

import subprocess
import sys
import tempfile

from bench.common import child_env

PG_URL = "postgresql://postgres@127.0.0.1:5432/moxweb_w"


def reset_pg() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS moxweb_w")
        conn.execute("CREATE DATABASE moxweb_w")


def run_children(script: str, db: str, child_args: list[str]) -> None:
    """Run `script --child child_args` once per database ("sqlite", "postgresql" or "both")."""
    for one in ["sqlite", "postgresql"] if db == "both" else [db]:
        with tempfile.TemporaryDirectory(prefix="moxweb-web-bench-") as tmp:
            env = child_env()
            env["MOX_DATA_DIR"] = tmp
            if one == "postgresql":
                reset_pg()
                env["DATABASE_URL"] = PG_URL
            else:
                env["DATABASE_URL"] = f"sqlite:///{tmp}/moxweb.sqlite3"
            subprocess.run([sys.executable, script, "--child", *child_args], env=env, check=True)
