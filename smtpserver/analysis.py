"""The verdict on an incoming message before we answer DATA (mox-v0.0.5 section 1.1.11).

Measures with mailcore.authn (iprev, DKIM, SPF, then DMARC) and decides, in mox's order,
the parts built so far: DMARC reject (quarantine counts as reject), SPF fail/softfail
without a reputation to outweigh it, the account's Bayesian junk filter, then DNSBL
zones. Rejections other than DMARC's are mox's opaque, temporary `451 4.3.0`; DNS
temperrors never turn into permanent rejects.

# todo: reputation (mox analyze() step 5), suspicious iprev (8), subjectpass (9),
# mailing-list allow rules (1) and DMARC/TLS report addresses (3, 4, 6).
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from mailcore.authn import dnsbl
from mailcore.authn.incoming import Verdicts, authenticate
from mailcore.authn.spf import SPFStatus
from mailcore.smtp import codes
from mailcore.smtp.codes import Reply, reply

if TYPE_CHECKING:
    from accounts.models import Account
    from smtpserver.connection import SMTPConnection, Transaction

log = logging.getLogger(__name__)

# mox reads at most this much of a message for DKIM; larger messages are still
# delivered, their signatures reported as not verified.
MAX_ANALYZE_SIZE = 32 * 1024 * 1024

OPAQUE = "error processing"


@dataclass
class Analysis:
    verdicts: Verdicts | None
    headers: bytes = b""
    reject: Reply | None = None
    reason: str = ""
    dkim_domains: list[str] = field(default_factory=list)
    validations: dict[str, str] = field(default_factory=dict)


def wanted(conn: SMTPConnection) -> bool:
    """Port 25 mail is judged; localserve judges it only when pointed at a DNS server."""
    if conn.config.submission:
        return False
    if conn.config.localserve:
        return bool(settings.MOX_DNS_RESOLVER)
    return True


async def analyze(conn: SMTPConnection, tx: Transaction, path: Path) -> Analysis:
    size = path.stat().st_size
    data = path.read_bytes() if size <= MAX_ANALYZE_SIZE else _header_only(path)
    sender = tx.mail.sender
    mail_from = f"{sender.localpart}@{sender.domain_text}" if sender else ""
    v = await authenticate(
        conn.resolver(), data, ip=conn.remote_ip, helo=conn.ehlo or "", mail_from=mail_from,
        authserv_id=conn.config.hostname,
    )
    result = Analysis(
        verdicts=v,
        headers=v.headers.encode("utf-8"),
        dkim_domains=sorted({r.signature.domain for r in v.dkim if r.passed and r.signature}),
        validations={"spf": str(v.spf.status), "dmarc": str(v.dmarc.status), "iprev": str(v.iprev.status)},
    )
    # mox step 2: DMARC failure with a policy other than none rejects, permanently.
    if v.dmarc.reject:
        result.reject = reply(550, codes.SE_DMARC_POLICY, "rejecting per dmarc policy")
        result.reason = "dmarc-policy"
        return result
    # mox step 7: without reputation to go by, an SPF fail or softfail is not accepted.
    if v.spf.status in (SPFStatus.fail, SPFStatus.softfail) and not v.dmarc.passed:
        result.reject = reply(451, codes.SE_SYSTEM_OTHER, OPAQUE)
        result.reason = "spf-policy"
        return result
    return result


async def junk_verdict(conn: SMTPConnection, account: Account, path: Path, analysis: Analysis) -> Reply | None:
    """mox step 10 for one recipient account: the Bayesian filter, with mox's jitter of
    [-0.05, 0.05) on the threshold. A classifier error is a temporary failure."""
    from mailstore import junk

    try:
        enabled = await conn.db(junk.enabled, account)
        if not enabled:
            return None
        params = await conn.db(junk.params_for, account)
        threshold = float(getattr(params, "threshold", 0.95)) + random.uniform(-0.05, 0.05)
        data = path.read_bytes()[:MAX_ANALYZE_SIZE]
        result = await conn.db(junk.classify, account, data)
    except Exception:  # noqa: BLE001 - answered as a temporary failure
        log.exception("junk filter failed", extra={"cid": conn.cid, "account": account.name})
        return reply(451, codes.SE_SYSTEM_OTHER, OPAQUE)
    analysis.validations["junk_probability"] = f"{result.probability:.3f}"
    if result.probability > threshold:
        log.info("rejected as junk", extra={"cid": conn.cid, "account": account.name, "p": result.probability})
        return reply(451, codes.SE_SYSTEM_OTHER, OPAQUE)
    return None


async def dnsbl_verdict(conn: SMTPConnection) -> Reply | None:
    """mox step 11: each configured zone in turn; unhealthy zones are skipped."""
    zones = settings.MOX_DNSBL_ZONES
    if not zones:
        return None
    checker = _checker(conn, zones)
    listed = await checker.check(conn.remote_ip)
    if listed is not None and listed.listed:
        log.info("rejected, ip listed", extra={"cid": conn.cid, "zone": listed.zone, "ip": conn.remote_ip})
        return reply(451, codes.SE_SYSTEM_OTHER, OPAQUE)
    return None


_checkers: dict[tuple[int, tuple[str, ...]], Any] = {}


def _checker(conn: SMTPConnection, zones: list[str]) -> Any:
    resolver = conn.resolver()
    key = (id(resolver), tuple(zones))
    if key not in _checkers:
        _checkers[key] = dnsbl.Checker(resolver, zones)
    return _checkers[key]


def _header_only(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(1024 * 1024)
    end = head.find(b"\r\n\r\n")
    return head[: end + 4] if end >= 0 else head
