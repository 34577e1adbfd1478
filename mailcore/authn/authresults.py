"""The Authentication-Results header (RFC 8601), built with authres, in mox's order
and layout: iprev, each dkim, spf, dmarc, one result per folded line."""
from __future__ import annotations

from collections.abc import Sequence

from authres import (
    AuthenticationResult,
    AuthenticationResultProperty,
    DKIMAuthenticationResult,
    IPRevAuthenticationResult,
    SPFAuthenticationResult,
)
from authres.dmarc import DMARCAuthenticationResult

from mailcore.authn.dkim import DKIMResult, DKIMStatus
from mailcore.authn.dmarc import DMARCResult
from mailcore.authn.iprev import IPRevResult
from mailcore.authn.spf import Identity, SPFResult


def _reason(text: str) -> str | None:
    text = " ".join(text.split())[:200]
    return text or None


def _dkim(r: DKIMResult) -> AuthenticationResult:
    sig = r.signature
    props = []
    comment = None
    if r.record is not None and r.record.bits:
        comment = f"{r.record.bits} bit {r.record.key_type}"
    domain = sig.domain if sig else r.domain
    selector = sig.selector if sig else r.selector
    if domain:
        props.append(AuthenticationResultProperty("header", "d", domain))
    if selector:
        props.append(AuthenticationResultProperty("header", "s", selector))
    if sig is not None:
        props.append(AuthenticationResultProperty("header", "a", sig.algorithm))
        # RFC 6008 section 4: enough of b= to tell signatures apart; mox uses 12.
        props.append(AuthenticationResultProperty("header", "b", sig.b[:12]))
        if sig.identity:
            props.append(AuthenticationResultProperty("header", "i", sig.identity))
    reason = None if r.status == DKIMStatus.pass_ else _reason(r.error)
    return DKIMAuthenticationResult(result=str(r.status), result_comment=comment, reason=reason, properties=props)


def _fold(name: str, parts: list[str]) -> str:
    """One result per line, continued lines start with a tab; a result longer than
    78 columns is folded at spaces outside quoted strings (RFC 5322 section 2.2.3)."""
    lines = [f"{name}: {parts[0]}" + (";" if len(parts) > 1 else "")]
    for i, part in enumerate(parts[1:], start=1):
        text = part + (";" if i < len(parts) - 1 else "")
        cur = "\t"
        for word in _words(text):
            if len(cur) + 1 + len(word) > 78 and cur.strip():
                lines.append(cur)
                cur = "\t" + word
            else:
                cur = cur + ("" if cur == "\t" else " ") + word
        lines.append(cur)
    return "\r\n".join(lines) + "\r\n"


def _words(text: str) -> list[str]:
    words, cur, quoted, depth = [], "", False, 0
    for c in text:
        if c == '"' and depth == 0:
            quoted = not quoted
        elif c == "(" and not quoted:
            depth += 1
        elif c == ")" and not quoted and depth:
            depth -= 1
        if c == " " and not quoted and depth == 0:
            if cur:
                words.append(cur)
            cur = ""
        else:
            cur += c
    if cur:
        words.append(cur)
    return words


def fold_header(name: str, value: str) -> str:
    """A header field folded at spaces into lines of at most 78 columns where words
    allow (RFC 5322 section 2.2.3; FWS may stand in comments and quoted strings too,
    and unfolding restores the space), ending in CRLF."""
    lines = [f"{name}:"]
    for word in value.split():
        if len(lines[-1]) + 1 + len(word) > 78 and lines[-1] != f"{name}:":
            lines.append("\t" + word)
        else:
            lines[-1] += " " + word
    return "\r\n".join(lines) + "\r\n"


def authentication_results(
    authserv_id: str,
    *,
    iprev: IPRevResult | None = None,
    dkim: Sequence[DKIMResult] | None = None,
    spf: SPFResult | None = None,
    dmarc: DMARCResult | None = None,
    auth_mailfrom: str | None = None,
) -> str:
    """The whole header field, "Authentication-Results: ...\\r\\n". `dkim=[]` writes
    dkim=none (checked, no signatures); None leaves a method out. `auth_mailfrom`
    writes the submission form "auth=pass smtp.mailfrom=..." (RFC 8601 2.7.4)."""
    results: list[AuthenticationResult] = []
    if auth_mailfrom is not None:
        results.append(
            AuthenticationResult(
                "auth", result="pass", properties=[AuthenticationResultProperty("smtp", "mailfrom", auth_mailfrom)]
            )
        )
    if iprev is not None:
        results.append(
            IPRevAuthenticationResult(
                result=str(iprev.status), policy_iprev=iprev.ip, policy_iprev_comment=iprev.name or None
            )
        )
    if dkim is not None:
        if not dkim:
            results.append(AuthenticationResult("dkim", result="none"))
        results.extend(_dkim(r) for r in dkim)
    if spf is not None:
        if spf.identity == Identity.helo:
            helo = spf.sender.rpartition("@")[2]
            results.append(SPFAuthenticationResult(result=str(spf.status), smtp_helo=helo))
        else:
            results.append(SPFAuthenticationResult(result=str(spf.status), smtp_mailfrom=spf.sender))
    if dmarc is not None:
        results.append(DMARCAuthenticationResult(result=str(dmarc.status), header_from=dmarc.from_domain or None))
    if not results:
        return f"Authentication-Results: {authserv_id}; none\r\n"  # RFC 8601 section 2.2
    return _fold("Authentication-Results", [authserv_id] + [str(r) for r in results])
