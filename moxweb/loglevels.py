"""Log levels changed while running, as mox's `loglevels` command and admin page.

The changes are kept in `MOX_DATA_DIR/loglevels.json` ({"component": "LEVEL"}), so
they reach every process of the installation (runmail and localserve look every
second, the delivery worker before each task) and survive a restart until removed.
A component without a change gets its level from MOX_LOG_LEVELS, else MOX_LOG_LEVEL.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from django.conf import settings

from moxweb.logging import COMPONENTS, LEVELS

log = logging.getLogger(__name__)

FILE_NAME = "loglevels.json"


class LogLevelError(ValueError):
    pass


def path() -> Path:
    return Path(settings.DATA_DIR) / FILE_NAME


def valid_component(name: str) -> bool:
    parts = name.split(".")
    return parts[0] in COMPONENTS and all(p.isidentifier() for p in parts)


def read_changes() -> dict[str, str]:
    """The runtime changes; a missing or unreadable file is no changes, and entries
    that are not component=level are ignored."""
    try:
        data = json.loads(path().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and valid_component(k) and v in LEVELS}


def _write(changes: dict[str, str]) -> None:
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{FILE_NAME}.{os.getpid()}")
    with open(tmp, "w") as fh:
        json.dump(dict(sorted(changes.items())), fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def set_level(component: str, level: str) -> dict[str, str]:
    level = level.upper()
    if not valid_component(component):
        raise LogLevelError(f"{component!r} is not one of {', '.join(COMPONENTS)} (or a dotted module below one)")
    if level not in LEVELS:
        raise LogLevelError(f"{level!r} is not one of {', '.join(LEVELS)}")
    changes = read_changes()
    changes[component] = level
    _write(changes)
    apply(changes)
    log.info("log level set", extra={"component": component, "level": level})
    return changes


def remove_level(component: str) -> dict[str, str]:
    changes = read_changes()
    if component not in changes:
        raise LogLevelError(f"no log level change for {component!r}")
    del changes[component]
    _write(changes)
    apply(changes)
    log.info("log level change removed", extra={"component": component})
    return changes


def configured_level(component: str) -> tuple[str, str]:
    """(level, where it comes from) without runtime changes."""
    if component in settings.MOX_LOG_LEVELS:
        return settings.MOX_LOG_LEVELS[component], "MOX_LOG_LEVELS"
    if component in COMPONENTS:
        return settings.MOX_LOG_LEVEL, "MOX_LOG_LEVEL"
    return "", "inherited"


def effective() -> list[tuple[str, str, str]]:
    """(component, level, source) for every component and every module that has a
    level of its own, sorted by name."""
    changes = read_changes()
    names = set(COMPONENTS) | set(settings.MOX_LOG_LEVELS) | set(changes)
    rows = []
    for name in sorted(names):
        if name in changes:
            rows.append((name, changes[name], "changed at runtime"))
        else:
            level, source = configured_level(name)
            rows.append((name, level or logging.getLevelName(logging.getLogger(name).getEffectiveLevel()), source))
    return rows


_applied: set[str] = set()


def apply(changes: dict[str, str]) -> None:
    """Set the loggers: changed ones to their new level, ones changed before back."""
    for name in _applied - set(changes):
        level, _ = configured_level(name)
        logging.getLogger(name).setLevel(level or logging.NOTSET)
    for name, level in changes.items():
        logging.getLogger(name).setLevel(level)
    _applied.clear()
    _applied.update(changes)


_lock = threading.Lock()
_seen: tuple[float, float] = (0.0, -1.0)  # (when looked, file mtime then)


def apply_if_changed(min_interval: float = 1.0) -> None:
    """Apply the file when it changed since the last look, looking at most once per
    `min_interval` seconds (a stat)."""
    global _seen
    now = time.monotonic()
    with _lock:
        if now - _seen[0] < min_interval:
            return
        try:
            mtime = path().stat().st_mtime
        except OSError:
            mtime = 0.0
        changed = mtime != _seen[1]
        _seen = (now, mtime)
    if changed:
        apply(read_changes())
