"""A second database connection for a data directory other than the configured one
(a SQLite backup being verified), under its own alias for the ORM's `.using()`."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connections

SQLITE_NAME = "moxweb.db"


@contextmanager
def sqlite_alias(path: Path, alias: str = "moxweb_other") -> Iterator[str]:
    """Open the SQLite database at `path` as `alias` for the duration of the block."""
    settings_dict = dict(connections["default"].settings_dict)
    settings_dict.update(
        ENGINE="django.db.backends.sqlite3",
        NAME=str(path),
        USER="",
        PASSWORD="",
        HOST="",
        PORT="",
        OPTIONS={"timeout": 20},
        TEST={"NAME": None},
        CONN_MAX_AGE=0,
    )
    connections.settings[alias] = settings_dict
    try:
        yield alias
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]


def data_dir_database(data_dir: Path) -> tuple[str, Path | None]:
    """Which database belongs to `data_dir`: ("default", None) for the configured data
    directory, else ("sqlite", its moxweb.db) or ("none", None)."""
    from django.conf import settings

    if data_dir.resolve() == Path(settings.DATA_DIR).resolve():
        return "default", None
    db = data_dir / SQLITE_NAME
    if db.is_file():
        return "sqlite", db
    return "none", None
