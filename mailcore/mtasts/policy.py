"""MTA-STS record and policy parsing and MX matching (RFC 8461 sections 3 and 4)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class PolicyError(ValueError):
    pass


class Mode(StrEnum):
    """RFC 8461 section 3.2."""

    enforce = "enforce"
    testing = "testing"
    none = "none"


@dataclass(frozen=True)
class Record:
    """The `_mta-sts.<domain>` TXT record (RFC 8461 section 3.1)."""

    id: str
    extensions: tuple[tuple[str, str], ...] = ()


_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def parse_record(txt: str) -> Record:
    """RFC 8461 section 3.1: "v=STSv1" first, then "id=" (1-32 alphanumerics), fields
    separated by ";" with optional whitespace; unknown fields are kept."""
    fields = [f.strip() for f in txt.split(";")]
    if fields and fields[-1] == "":
        fields.pop()
    if not fields or fields[0] != "v=STSv1":
        raise PolicyError("record does not start with v=STSv1")
    ident = ""
    ext: list[tuple[str, str]] = []
    for f in fields[1:]:
        key, eq, value = f.partition("=")
        if not eq or not _KEY.match(key):
            raise PolicyError(f"malformed field {f!r}")
        if key == "id":
            if ident:
                raise PolicyError("duplicate id")
            if not _ID.match(value):
                raise PolicyError(f"malformed id {value!r}")
            ident = value
        else:
            ext.append((key, value))
    if not ident:
        raise PolicyError("missing id")
    return Record(ident, tuple(ext))


@dataclass(frozen=True)
class Policy:
    """The policy file (RFC 8461 section 3.2)."""

    mode: Mode
    max_age: int
    mx: tuple[str, ...] = ()
    extensions: tuple[tuple[str, str], ...] = field(default=())


MAX_AGE_LIMIT = 31557600  # RFC 8461 section 3.2: at most one year


def parse_policy(text: str) -> Policy:
    """Lines of "key: value" separated by CRLF or LF; version STSv1, mode, max_age and,
    unless mode is none, at least one mx (RFC 8461 section 3.2)."""
    version = mode = max_age = None
    mx: list[str] = []
    ext: list[tuple[str, str]] = []
    for raw in re.split(r"\r?\n", text):
        line = raw.strip()
        if not line:
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise PolicyError(f"malformed line {raw!r}")
        key, value = key.strip(), value.strip()
        if key == "version":
            if version is not None:
                raise PolicyError("duplicate version")
            version = value
        elif key == "mode":
            if mode is not None:
                raise PolicyError("duplicate mode")
            try:
                mode = Mode(value)
            except ValueError:
                raise PolicyError(f"unknown mode {value!r}") from None
        elif key == "max_age":
            if max_age is not None:
                raise PolicyError("duplicate max_age")
            if not value.isdigit() or len(value) > 10:
                raise PolicyError(f"malformed max_age {value!r}")
            max_age = min(int(value), MAX_AGE_LIMIT)
        elif key == "mx":
            if not _valid_mx_pattern(value):
                raise PolicyError(f"malformed mx {value!r}")
            mx.append(value.lower().rstrip("."))
        else:
            ext.append((key, value))
    if version != "STSv1":
        raise PolicyError("missing or wrong version")
    if mode is None:
        raise PolicyError("missing mode")
    if max_age is None:
        raise PolicyError("missing max_age")
    if mode != Mode.none and not mx:
        raise PolicyError("missing mx")
    return Policy(mode, max_age, tuple(mx), tuple(ext))


def _valid_mx_pattern(value: str) -> bool:
    name = value[2:] if value.startswith("*.") else value
    labels = name.rstrip(".").split(".")
    return len(labels) >= 1 and all(re.fullmatch(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?", lab) for lab in labels)


def mx_matches(policy: Policy, host: str) -> bool:
    """RFC 8461 section 4.1: an exact name, or "*." matching exactly one leftmost label
    ("*.example.com" matches "mx.example.com", not "a.b.example.com" or "example.com").
    Host names are compared in A-label form, case-insensitive."""
    host = host.lower().rstrip(".")
    for pattern in policy.mx:
        if pattern.startswith("*."):
            first, dot, rest = host.partition(".")
            if dot and first and rest == pattern[2:]:
                return True
        elif pattern == host:
            return True
    return False
