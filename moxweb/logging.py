"""Log formatters: key=value text (default) or one JSON object per line.

Extra fields passed with `logger.info("msg", extra={"cid": ..., "remote": ...})`
are appended; passwords and message bodies are never logged.
"""
from __future__ import annotations

import json
import logging
from contextvars import ContextVar

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

# Fields every record logged in this context carries: a connection binds its id and
# remote IP (and the account once logged in), so lines logged anywhere on its behalf,
# in its database thread too (sync_to_async copies the context), can be found together.
_context: ContextVar[dict[str, object]] = ContextVar("moxweb_log_context", default={})


def bind(**fields: object) -> None:
    """Add fields to the current context's log lines (an asyncio task's own context:
    one connection's binding does not leak into another's)."""
    _context.set({**_context.get(), **fields})


class ContextFilter(logging.Filter):
    """Copies the bound fields onto each record, unless the call passed its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if key not in record.__dict__:
                setattr(record, key, value)
        return True


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


def _quote(value: object) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n'):
        return json.dumps(text)
    return text


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"time={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}",
            f"level={record.levelname.lower()}",
            f"pkg={record.name}",
            f"msg={_quote(record.getMessage())}",
        ]
        parts += [f"{k}={_quote(v)}" for k, v in _extras(record).items()]
        if record.exc_info:
            parts.append(f"err={_quote(self.formatException(record.exc_info))}")
        return " ".join(parts)


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "pkg": record.name,
            "msg": record.getMessage(),
        }
        obj.update({k: str(v) for k, v in _extras(record).items()})
        if record.exc_info:
            obj["err"] = self.formatException(record.exc_info)
        return json.dumps(obj)


# The packages whose loggers moxweb configures; MOX_LOG_LEVELS may name these or any
# dotted child of them (e.g. "mailqueue.delivery").
COMPONENTS = ("moxweb", "accounts", "mailstore", "mailqueue", "smtpserver", "imapserver", "mailcore",
              "webadmin", "wellknown", "autotls", "reports", "webserver", "deliverylog")
LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


def parse_component_levels(spec: str) -> tuple[dict[str, str], list[str]]:
    """Parse MOX_LOG_LEVELS, "component=level,component=level" (mox's per-package
    LogLevels). Returns the levels and a list of problems, one per bad item."""
    levels: dict[str, str] = {}
    problems: list[str] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, level = item.partition("=")
        name, level = name.strip(), level.strip().upper()
        if not sep or not name or not level:
            problems.append(f"MOX_LOG_LEVELS item {item!r} is not component=level")
            continue
        if name.split(".")[0] not in COMPONENTS:
            problems.append(f"MOX_LOG_LEVELS component {name!r} is not one of {', '.join(COMPONENTS)} "
                            "(or a dotted module below one)")
            continue
        if level not in LEVELS:
            problems.append(f"MOX_LOG_LEVELS level {level!r} for {name} is not one of {', '.join(LEVELS)}")
            continue
        levels[name] = level
    return levels, problems


def logging_config(fmt: str, level: str, component_levels: dict[str, str]) -> dict[str, object]:
    """The LOGGING dict: one console handler in the chosen format, `level` for each
    component, overridden per component (or dotted module) by `component_levels`."""
    loggers: dict[str, dict[str, object]] = {name: {"level": level, "propagate": True} for name in COMPONENTS}
    for name, lvl in component_levels.items():
        loggers[name] = {"level": lvl, "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "text": {"()": "moxweb.logging.KeyValueFormatter"},
            "json": {"()": "moxweb.logging.JSONFormatter"},
        },
        "filters": {"context": {"()": "moxweb.logging.ContextFilter"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json" if fmt == "json" else "text",
                        "filters": ["context"]},
        },
        "root": {"handlers": ["console"], "level": "WARNING"},
        "loggers": loggers,
    }
