"""The DMARC policy record (RFC 7489 section 6.3, RFC 9989 section 4.7)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mailcore.authn.errors import ParseError
from mailcore.authn.tags import parse_tags


class Policy(StrEnum):
    none = "none"
    quarantine = "quarantine"
    reject = "reject"


class Alignment(StrEnum):
    relaxed = "r"
    strict = "s"


@dataclass(frozen=True)
class DMARCRecord:
    policy: Policy  # p=
    subdomain_policy: Policy | None = None  # sp=
    nonexistent_policy: Policy | None = None  # np= (RFC 9989)
    adkim: Alignment = Alignment.relaxed
    aspf: Alignment = Alignment.relaxed
    pct: int = 100  # RFC 7489 only; RFC 9989 drops it
    psd: str = "u"  # RFC 9989: y, n or u
    testing: bool = False  # t=y (RFC 9989)
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()
    fo: str = "0"
    ri: int = 86400
    p_missing: bool = False  # p= absent or invalid, read as none (RFC 7489 6.6.3)


def is_dmarc_record(txt: str | bytes) -> bool:
    """RFC 7489 section 6.6.3: records not starting with "v=DMARC1" are discarded."""
    if isinstance(txt, bytes):
        txt = txt.decode("utf-8", "surrogateescape")
    head = txt.lstrip(" \t").split(";", 1)[0]
    name, _, value = head.partition("=")
    return name.strip(" \t") == "v" and value.strip(" \t") == "DMARC1"


def _policy(value: str, tag: str) -> Policy:
    try:
        return Policy(value.lower())
    except ValueError:
        raise ParseError(f"bad {tag}= policy {value[:20]!r}") from None


def _uris(value: str) -> tuple[str, ...]:
    # RFC 7489 section 6.4: comma-separated URIs, each optionally "!size".
    out = tuple(u.strip(" \t") for u in value.split(",") if u.strip(" \t"))
    for u in out:
        if ":" not in u:
            raise ParseError(f"bad report URI {u[:40]!r}")
    return out


def parse_record(txt: str | bytes) -> DMARCRecord:
    """Parse a record that starts with v=DMARC1; raises ParseError."""
    if isinstance(txt, bytes):
        txt = txt.decode("utf-8", "surrogateescape")
    pairs = parse_tags(txt, lowercase_names=True)
    if not pairs or pairs[0] != ("v", "DMARC1"):
        raise ParseError("record does not start with v=DMARC1")
    tags = dict(pairs)
    rua = _uris(tags["rua"]) if "rua" in tags else ()
    ruf = _uris(tags["ruf"]) if "ruf" in tags else ()
    p_missing = False
    try:
        if "p" not in tags:
            raise ParseError("missing p=")
        policy = _policy(tags["p"], "p")
    except ParseError:
        # RFC 7489 section 6.6.3: with a valid rua, act as if p=none.
        if not rua:
            raise
        policy, p_missing = Policy.none, True
    sp = _policy(tags["sp"], "sp") if "sp" in tags else None
    np = _policy(tags["np"], "np") if "np" in tags else None

    def align(tag: str) -> Alignment:
        v = tags.get(tag, "r").lower()
        if v not in ("r", "s"):
            raise ParseError(f"bad {tag}={v[:10]!r}")
        return Alignment(v)

    pct = 100
    if "pct" in tags:
        if not tags["pct"].isdigit() or len(tags["pct"]) > 3 or int(tags["pct"]) > 100:
            raise ParseError(f"bad pct={tags['pct'][:10]!r}")
        pct = int(tags["pct"])
    psd = tags.get("psd", "u").lower()
    if psd not in ("y", "n", "u"):
        raise ParseError(f"bad psd={psd[:10]!r}")
    t = tags.get("t", "n").lower()
    if t not in ("y", "n"):
        raise ParseError(f"bad t={t[:10]!r}")
    ri = 86400
    if "ri" in tags:
        if not tags["ri"].isdigit() or len(tags["ri"]) > 10:
            raise ParseError(f"bad ri={tags['ri'][:10]!r}")
        ri = int(tags["ri"])
    return DMARCRecord(
        policy=policy,
        subdomain_policy=sp,
        nonexistent_policy=np,
        adkim=align("adkim"),
        aspf=align("aspf"),
        pct=pct,
        psd=psd,
        testing=t == "y",
        rua=rua,
        ruf=ruf,
        fo=tags.get("fo", "0"),
        ri=ri,
        p_missing=p_missing,
    )
