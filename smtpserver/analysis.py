"""The verdict on an incoming message before we answer DATA (mox-v0.0.5 section 1.1.11).

`measure` runs once per message: mailcore.authn (iprev, DKIM, SPF, then DMARC), the
From address and its alignment (mox's MsgFromValidation), and what rulesets and
reputation look at. `decide` runs per recipient, in mox's analyze() order:

1. the matching ruleset's ListAllowDomain (`list-allow`);
   a ruleset with IsForward (mox v0.0.6): no DMARC reject, and the forwarder's IP,
   EHLO and MAIL FROM domains and its DKIM domain are left out of reputation, for this
   message and, as stored, for later ones;
2. DMARC reject, quarantine counting as reject: `550 5.7.26` (`dmarc-policy`);
3, 4. DMARC aggregate and TLS reports to a reporting address (reports.ingest);
5. reputation per destination mailbox (smtpserver/reputation.py): conclusive ham
   accepts, conclusive spam rejects, a database error is `451` (`reputation-error`);
6. a valid report without conclusive reputation is accepted (`reporting`);
7. SPF fail/softfail without sender reputation (`spf-policy`);
8. "suspicious": no sender reputation and iprev not pass; with a junk lean (`iprev`);
9. a valid subjectpass token in the Subject (`subjectpass`);
10. the account's Bayesian filter, threshold jittered by [-0.05, 0.05) and capped at
    0.25 when suspicious (`junk-content`, `junk-content-strict`); errors are `451`
    (`junk-filter-error`, `junk-classify-error`);
11. DNSBL zones, checked once per message (`dns-blocklisted`);
12. accepted: `no-bad-signals`;
13. refused with a subjectpass token: `550 5.7.1 ... (pass:<token>)` (`give-subjectpass`)
    when subjectpass is on, DMARC passed, there is no reputation at all, and the
    message was listed or only moderately spammy;
14. otherwise mox's opaque, temporary `451 4.3.0 error processing`.

A refusal (any of the above) of mail whose ruleset has AcceptRejectsToMailbox (mox
v0.0.6) is accepted instead, into that mailbox, seen, with the refusal's reason.

DNS temperrors never turn into permanent rejects. The reason goes into the stored
prefix as `X-Mox-Reason:`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import random
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings

from mailcore.authn import dnsbl
from mailcore.authn.dmarc import psl_organizational_domain
from mailcore.authn.incoming import Verdicts, authenticate
from mailcore.authn.spf import Identity, SPFStatus
from mailcore.message.summary import summarize
from mailcore.smtp import codes
from mailcore.smtp.codes import Reply, reply
from mailstore import rulesets
from mailstore.actions import DeliveryInfo
from mailstore.models import Message
from mailstore.rulesets import Ruleset
from moxweb.metrics import JUNK_VERDICTS
from smtpserver.reputation import WEAK_METHODS, Facts, Method, Reputation
from smtpserver.spool import Spool, header_section

if TYPE_CHECKING:
    from smtpserver.connection import Recipient, SMTPConnection, Transaction

log = logging.getLogger(__name__)

# mox reads at most this much of a message for DKIM; larger messages are still
# delivered, their signatures reported as not verified.
MAX_ANALYZE_SIZE = 32 * 1024 * 1024

OPAQUE = "error processing"


@dataclass
class Analysis:
    """What was measured of one message, shared by its recipients."""

    verdicts: Verdicts | None
    headers: bytes = b""
    dkim_domains: list[str] = field(default_factory=list)
    validations: dict[str, str] = field(default_factory=dict)
    info: DeliveryInfo = field(default_factory=DeliveryInfo)
    facts: Facts = field(default_factory=Facts)
    msg_from: str = ""  # the From address, "localpart@domain"
    subject: str = ""
    # None when the header was not parsed here (unjudged mail): the delivery's own
    # parse of the same header gives the stored message's.
    message_id: str | None = ""
    sha256: str = ""
    # DNSBL result, looked up at most once per message: None not yet asked.
    dnsbl_listed: bool | None = None
    # The header section, whose fields the ruleset facts carry (split on first use:
    # only an account with rulesets looks at them).
    head: bytes = b""
    envelope_facts: rulesets.MessageFacts = field(default_factory=rulesets.MessageFacts)
    _ruleset_facts: rulesets.MessageFacts | None = field(default=None, repr=False)

    @property
    def ruleset_facts(self) -> rulesets.MessageFacts:
        if self._ruleset_facts is None:
            self._ruleset_facts = dataclasses.replace(self.envelope_facts, headers=_header_fields(self.head))
        return self._ruleset_facts


@dataclass
class Decision:
    accept: bool
    reason: str
    mailbox: str
    reply: Reply | None = None
    report: Any = None  # reports.ingest.PendingReport, valid
    ruleset: Ruleset | None = None
    # mox IsReject: refused, but accepted into the ruleset's AcceptRejectsToMailbox;
    # `destined` is the mailbox it would have gone to.
    accepted_reject: bool = False
    destined: str = ""

    @property
    def forwarded(self) -> bool:
        """Matched a ruleset with IsForward: delivered by a forwarder we trust."""
        return self.ruleset is not None and self.ruleset.is_forward

    @property
    def seen(self) -> bool:
        """Stored as seen: a processed report, or an accepted reject (mox: so as not to
        draw attention, without going as far as marking it junk)."""
        return self.report is not None or self.accepted_reject

    @property
    def delays_first_time(self) -> bool:
        """mox 1.1.10: accepted for want of bad signals, not a report, not forwarded
        (the forwarder is not the sender to slow down)."""
        return self.accept and self.reason == "no-bad-signals" and self.report is None and not self.forwarded

    def stored_info(self, info: DeliveryInfo) -> DeliveryInfo:
        """What is stored of the message for this recipient: a forwarded message
        without the forwarder's signals (as forwarded_facts), an accepted reject with
        the mailbox it was meant for."""
        if self.ruleset is not None and self.ruleset.is_forward:
            info = dataclasses.replace(info, forwarded=True, ehlo_domain="", mail_from_domain="",
                                       dkim_domains=_without_forwarder(info.dkim_domains, self.ruleset))
        if self.accepted_reject:
            info = dataclasses.replace(info, destined_mailbox=self.destined)
        return info


def _without_forwarder(domains: Any, rs: Ruleset) -> list[str]:
    return [d for d in domains if d != rs.verified_domain]


def forwarded_facts(rs: Ruleset | None, facts: Facts) -> Facts:
    """mox analyze() for an IsForward ruleset: reputation does not look at the
    forwarder's networks, EHLO and MAIL FROM domains, or its DKIM domain (the ruleset's
    verified_domain); other verified DKIM domains still count."""
    if rs is None or not rs.is_forward:
        return facts
    return dataclasses.replace(facts, remote_ip_masked=("", "", ""), ehlo_domain="", mail_from_domain="",
                               dkim_domains=tuple(_without_forwarder(facts.dkim_domains, rs)))


def wanted(conn: SMTPConnection) -> bool:
    """Port 25 mail is judged; localserve judges it only when pointed at a DNS server."""
    if conn.config.submission:
        return False
    if conn.config.localserve:
        return bool(settings.MOX_DNS_RESOLVER)
    return True


def _header_fields(data: bytes) -> list[tuple[str, str]]:
    """(lower-case name, unfolded value) of each header field (RFC 5322 section 2.2)."""
    end = data.find(b"\r\n\r\n")
    head = data[: end + 2] if end >= 0 else data
    text = head.decode("utf-8", "replace")
    out: list[tuple[str, str]] = []
    for raw in re.split(r"\r\n(?![ \t])", text):
        name, colon, value = raw.partition(":")
        if not colon or not name or name != name.strip():
            continue
        out.append((name.lower(), re.sub(r"\r\n[ \t]+", " ", value).strip()))
    return out


def _validation(status: SPFStatus) -> str:
    return str(status)  # mox's Validation words equal SPF's results


def _alignment(v: Verdicts) -> str:
    """mox alignment(): strict when a passing DKIM domain or the SPF-passed identity is
    the From domain, relaxed when the organizational domains match; DMARC pass on
    a relaxed alignment is `dmarc`."""
    fd = v.from_domain
    if not fd:
        return Message.Validation.NONE
    org = psl_organizational_domain(fd)
    strict = relaxed = False
    for r in v.dkim:
        if not r.passed or r.signature is None:
            continue
        d = r.signature.domain.lower()
        if d == fd:
            strict = True
            break
        relaxed = relaxed or psl_organizational_domain(d) == org
    if not strict and v.spf.passed and v.spf.domain:
        strict = v.spf.domain.lower() == fd
        relaxed = relaxed or psl_organizational_domain(v.spf.domain.lower()) == org
    if strict:
        return Message.Validation.STRICT
    if relaxed:
        return Message.Validation.DMARC if v.dmarc.passed else Message.Validation.RELAXED
    return Message.Validation.NONE


async def measure(conn: SMTPConnection, tx: Transaction, spool: Spool, *, judged: bool) -> Analysis:
    """Everything the recipients' decisions need; DNS checks only when `judged`."""
    whole = judged and spool.size <= MAX_ANALYZE_SIZE
    # Unjudged (localserve) mail needs only the header, for rulesets.
    data = spool.read() if whole else spool.head()
    sender = tx.mail.sender
    mail_from = f"{sender.localpart}@{sender.domain_text}" if sender else ""
    mail_from_domain = sender.domain.ascii.lower() if sender and sender.domain else ""
    ehlo = (conn.ehlo or "").lower().rstrip(".")
    ehlo_domain = "" if ehlo.startswith("[") else ehlo
    a = Analysis(verdicts=None, sha256=hashlib.sha256(data).hexdigest() if whole else "", message_id=None,
                 head=header_section(data))
    info = DeliveryInfo(remote_ip=conn.remote_ip, ehlo_domain=ehlo_domain,
                        mail_from=sender.format() if sender else "",
                        mail_from_localpart=sender.localpart if sender else "", mail_from_domain=mail_from_domain)
    if judged:
        v = await authenticate(
            conn.resolver(), data, ip=conn.remote_ip, helo=conn.ehlo or "", mail_from=mail_from,
            authserv_id=conn.config.hostname,
        )
        a.verdicts = v
        summary = summarize(data)
        a.subject, a.message_id = summary.subject, summary.message_id
        if v.dmarc.record is not None and v.dmarc.record.rua and settings.MOX_DMARC_REPORTS_SEND:
            # Kept for the daily aggregate report the From domain asks for (RFC 7489 7.2).
            from reports.dmarcsend import record_evaluation

            await conn.db(record_evaluation, conn.remote_ip, mail_from_domain, v)
        a.headers = v.headers.encode("utf-8")
        a.dkim_domains = sorted({r.signature.domain.lower() for r in v.dkim if r.passed and r.signature})
        a.validations = {"spf": str(v.spf.status), "dmarc": str(v.dmarc.status), "iprev": str(v.iprev.status)}
        if v.spf.identity == Identity.helo:
            info.ehlo_validation = _validation(v.spf.status)
        else:
            info.mail_from_validation = _validation(v.spf.status)
        info.msg_from_validation = _alignment(v)
        info.dkim_domains = a.dkim_domains
        info.validations = dict(a.validations)
        if v.from_domain:
            localpart = summary.from_address.rpartition("@")[0] if "@" in summary.from_address else ""
            info.msg_from_localpart = localpart
            info.msg_from_domain = v.from_domain
            info.msg_from_orgdomain = psl_organizational_domain(v.from_domain)
            a.msg_from = f"{localpart}@{v.from_domain}"
        a.facts = _reputation_facts(conn, info, ehlo_domain, a.dkim_domains)
    # Unjudged mail keeps Facts() (reputation is only asked for judged mail): nothing
    # of it is validated, as its ruleset facts say.
    a.info = info
    a.envelope_facts = rulesets.MessageFacts(
        mail_from=mail_from, mail_from_domain=mail_from_domain, mail_from_validated=a.facts.mail_from_validated,
        ehlo_domain=ehlo_domain, ehlo_validated=a.facts.ehlo_validated, dkim_domains=tuple(a.dkim_domains),
    )
    return a


def _reputation_facts(conn: SMTPConnection, info: DeliveryInfo, ehlo_domain: str, dkim_domains: list[str]) -> Facts:
    try:
        from mailcore.ratelimit import masked_ips

        masked = masked_ips(conn.remote_ip) if conn.remote_ip else ("", "", "")
    except ValueError:
        masked = ("", "", "")
    fields_for_rep = info.reputation_fields()
    return Facts(
        msg_from_localpart=info.msg_from_localpart, msg_from_domain=info.msg_from_domain,
        msg_from_orgdomain=info.msg_from_orgdomain, msg_from_validated=bool(fields_for_rep["msg_from_validated"]),
        mail_from_localpart=info.mail_from_localpart, mail_from_domain=info.mail_from_domain,
        mail_from_validated=bool(fields_for_rep["mail_from_validated"]), ehlo_domain=ehlo_domain,
        ehlo_validated=bool(fields_for_rep["ehlo_validated"]), dkim_domains=tuple(dkim_domains),
        remote_ip_masked=masked,
    )


def _reject(reason: str, mailbox: str, answer: Reply | None = None) -> Decision:
    return Decision(False, reason, mailbox, answer or reply(451, codes.SE_SYSTEM_OTHER, OPAQUE))


async def _rulesets_for(conn: SMTPConnection, rcpt: Recipient) -> list[Ruleset]:
    """The account's rulesets that apply to the address the recipient reached (mox
    keeps them per destination); the address is looked up only when a ruleset has one."""
    found = rulesets.for_account(rcpt.account.rulesets)
    if not rulesets.scoped(found):
        return found
    addr = rcpt.address
    domain = addr.domain.ascii if addr.domain is not None else ""
    destination = await conn.db(rulesets.destination_of, rcpt.account.pk, addr.localpart, domain, conn.config.hostname)
    return rulesets.for_destination(found, destination)


async def decide(conn: SMTPConnection, a: Analysis, rcpt: Recipient, spool: Spool) -> Decision:
    """mox analyze() for one recipient; see the module docstring for the steps."""
    found = await _rulesets_for(conn, rcpt)
    ruleset = rulesets.first_match(found, a.ruleset_facts) if found else None
    mailbox = ruleset.mailbox if ruleset is not None else rcpt.mailbox
    decision = await _judge(conn, a, rcpt, spool, ruleset, mailbox)
    decision.ruleset = ruleset
    if decision.accept or ruleset is None or not ruleset.accept_rejects_to_mailbox:
        return decision
    log.info("accepting reject into the ruleset's mailbox", extra={
        "cid": conn.cid, "reason": decision.reason, "mailbox": ruleset.accept_rejects_to_mailbox})
    return Decision(True, decision.reason, ruleset.accept_rejects_to_mailbox, ruleset=ruleset,
                    accepted_reject=True, destined=decision.mailbox)


async def _judge(conn: SMTPConnection, a: Analysis, rcpt: Recipient, spool: Spool, ruleset: Ruleset | None,
                 mailbox: str) -> Decision:
    from smtpserver import store

    account = rcpt.account
    v = a.verdicts
    if v is None:
        return Decision(True, "", mailbox)
    if rulesets.list_allowed(ruleset, a.ruleset_facts, a.dkim_domains):
        return Decision(True, "list-allow", mailbox)
    forward = ruleset is not None and ruleset.is_forward
    if forward:
        log.info("forwarded message, leaving out the forwarder's signals", extra={"cid": conn.cid})
    if v.dmarc.reject and not forward:
        # A forwarder's own SPF pass is never aligned with the From domain; its DKIM
        # signature may be broken by the forwarding (mox v0.0.6 IsForward).
        return _reject("dmarc-policy", mailbox, reply(550, codes.SE_DMARC_POLICY, "rejecting per dmarc policy"))
    report = await _report(conn, a, rcpt, spool)
    if report is not None and ruleset is None:
        mailbox = report.mailbox
    valid_report = report if report is not None and report.valid else None
    try:
        rep: Reputation = await conn.db(store.reputation_for, account, mailbox, forwarded_facts(ruleset, a.facts))
    except Exception:  # noqa: BLE001 - answered as a temporary failure
        log.exception("reputation failed", extra={"cid": conn.cid, "account": account.name})
        return _reject("reputation-error", mailbox)
    log.info("reputation analyzed", extra={"cid": conn.cid, "conclusive": rep.conclusive, "junk": rep.junk,
                                           "method": str(rep.method)})
    if rep.conclusive:
        if not rep.junk:
            return Decision(True, str(rep.method), mailbox, report=valid_report)
        return _reject(str(rep.method), mailbox)
    if valid_report is not None:
        return Decision(True, "reporting", mailbox, report=valid_report)
    weak = rep.method in WEAK_METHODS
    if weak and a.info.mail_from_validation in (Message.Validation.FAIL, Message.Validation.SOFTFAIL):
        return _reject("spf-policy", mailbox)
    suspicious = weak and not v.iprev.passed
    if suspicious and rep.junk:
        return _reject("iprev", mailbox)
    key = b""
    if account.subjectpass_period > 0:
        from mailcore import subjectpass

        try:
            key = await conn.db(store.subjectpass_key, account)
        except Exception:  # noqa: BLE001
            log.exception("subjectpass key", extra={"cid": conn.cid})
            return _reject("subjectpass-error", mailbox)
        why = subjectpass.verify(a.subject, a.msg_from, key, account.subjectpass_period) if a.msg_from else "no from"
        if not why:
            return Decision(True, "subjectpass", mailbox)
        log.info("no subjectpass", extra={"cid": conn.cid, "why": why})
    accept = True
    reason = "no-bad-signals"
    junk_subjectpass = False
    content = await _junk(conn, account, spool, a, suspicious)
    if isinstance(content, str):
        return _reject(content, mailbox)
    if content is not None:
        accept, reason, junk_subjectpass = content
    listed = False
    if accept:
        listed = await _dnsbl_listed(conn, a)
        if listed:
            accept, reason = False, "dns-blocklisted"
    if accept:
        return Decision(True, "no-bad-signals", mailbox)
    if key and v.dmarc.passed and rep.method == Method.none and (listed or junk_subjectpass):
        from mailcore import subjectpass

        token = subjectpass.generate(a.msg_from, key)
        return _reject("give-subjectpass", mailbox,
                       reply(550, codes.SE_DELIVERY_UNAUTHORIZED, subjectpass.EXPLANATION + token))
    return _reject(reason, mailbox)


async def _report(conn: SMTPConnection, a: Analysis, rcpt: Recipient, spool: Spool) -> Any:
    """Steps 3 and 4: reports.ingest decides whether this is a reporting address and
    whether the report counts; None for other addresses."""
    try:
        from reports.ingest import evaluate
    except ImportError:
        return None
    addr = rcpt.address
    try:
        return await conn.db(evaluate, addr.localpart, addr.domain.ascii if addr.domain else "",
                             spool.read(), a.verdicts)
    except Exception:  # noqa: BLE001 - a broken report is delivered as plain mail
        log.exception("evaluating report", extra={"cid": conn.cid})
        return None


class _FilterError(Exception):
    """The account's junk filter could not be opened (as opposed to failing to classify)."""


def _classify(account: Any, spool: Spool) -> tuple[Any, Any] | None:
    """In the connection's database thread, in one hop: the account's filter settings
    and the message's classification, or None when the account has no filter."""
    from mailstore import junk

    try:
        if not junk.enabled(account):
            return None
        params = junk.params_for(account)
    except Exception as exc:  # noqa: BLE001 - reported as junk-filter-error
        raise _FilterError(str(exc)) from exc
    return params, junk.classify(account, spool.read(MAX_ANALYZE_SIZE))


async def _junk(conn: SMTPConnection, account: Any, spool: Spool, a: Analysis,
                suspicious: bool) -> tuple[bool, str, bool] | str | None:
    """Step 10: (accept, reason, subjectpass-eligible), an error reason, or None when
    the account has no filter. mox's jitter keeps us from being an oracle."""
    try:
        classified = await conn.db(_classify, account, spool)
    except _FilterError:
        log.exception("junk filter failed", extra={"cid": conn.cid, "account": account.name})
        return "junk-filter-error"
    except Exception:  # noqa: BLE001
        log.exception("junk classify failed", extra={"cid": conn.cid, "account": account.name})
        return "junk-classify-error"
    if classified is None:
        return None
    params, result = classified
    threshold = float(getattr(params, "threshold", 0.95)) + random.uniform(-0.05, 0.05)
    reason = "junk-content"
    if suspicious and threshold > 0.25:
        # An iprev failure sets a higher bar for the content.
        threshold, reason = 0.25, "junk-content-strict"
    a.validations["junk_probability"] = f"{result.probability:.3f}"
    accept = result.probability <= threshold
    JUNK_VERDICTS.labels("ham" if accept else "junk").inc()
    log.info("content analyzed", extra={"cid": conn.cid, "accept": accept, "p": result.probability})
    return accept, reason, result.probability < threshold - 0.2


async def _dnsbl_listed(conn: SMTPConnection, a: Analysis) -> bool:
    """Step 11: each configured zone in turn; unhealthy zones are skipped."""
    if a.dnsbl_listed is None:
        a.dnsbl_listed = False
        zones = settings.MOX_DNSBL_ZONES
        if zones:
            listed = await _checker(conn, zones).check(conn.remote_ip)
            if listed is not None and listed.listed:
                log.info("ip listed", extra={"cid": conn.cid, "zone": listed.zone, "ip": conn.remote_ip})
                a.dnsbl_listed = True
    return a.dnsbl_listed


_checkers: dict[tuple[int, tuple[str, ...]], Any] = {}


def _checker(conn: SMTPConnection, zones: list[str]) -> Any:
    resolver = conn.resolver()
    key = (id(resolver), tuple(zones))
    if key not in _checkers:
        _checkers[key] = dnsbl.Checker(resolver, zones)
    return _checkers[key]

