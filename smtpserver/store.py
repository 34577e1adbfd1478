"""The SMTP server's database work: synchronous functions, each called from a
connection in a thread of the process's database pool (smtpserver.dbpool)."""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils import timezone

from accounts import actions as account_actions
from accounts.models import Account, Credential
from mailcore.message.summary import Summary
from mailcore.sasl.secrets import ScramSecret
from mailcore.smtp.address import Address, parse_address
from mailcore.smtp.codes import Reply
from mailqueue.actions import QueueRecipient, enqueue
from mailqueue.models import QueuedMessage
from mailstore import actions as mailstore_actions
from mailstore.actions import (
    DeliveryInfo, DeliverySteps, Parsed, deliver_steps, normalize_mailbox_name, run_steps,
)
from mailstore.models import Mailbox, Message
from mailstore.rowinsert import fetch_one
from smtpserver.reputation import Facts, Reputation, reputation
from smtpserver.spool import Spool, SpoolError

log = logging.getLogger(__name__)


def localserve_account() -> Account | None:
    return Account.objects.filter(name=settings.MOX_LOCALSERVE_ACCOUNT).first()


def authenticate(username: str, password: str) -> Account | None:
    return account_actions.authenticate(username, password)


def scram_secret(username: str, mechanism: str) -> tuple[Account, ScramSecret] | None:
    account = account_actions.account_for_login(username)
    if account is None:
        return None
    cred = Credential.objects.filter(account=account).first()
    if cred is None:
        return None
    if mechanism.startswith("SCRAM-SHA-256"):
        fields = (cred.scram_sha256_salt, cred.scram_sha256_iterations, cred.scram_sha256_stored_key,
                  cred.scram_sha256_server_key)
    else:
        fields = (cred.scram_sha1_salt, cred.scram_sha1_iterations, cred.scram_sha1_stored_key,
                  cred.scram_sha1_server_key)
    salt, iterations, stored, server = fields
    if not salt or not stored or not server:
        return None
    return account, ScramSecret(bytes(salt), iterations, bytes(stored), bytes(server))


def cram_md5_states(username: str) -> tuple[Account, bytes, bytes] | None:
    account = account_actions.account_for_login(username)
    if account is None:
        return None
    cred = Credential.objects.filter(account=account).first()
    if cred is None or not cred.cram_md5_ipad or not cred.cram_md5_opad:
        return None
    return account, bytes(cred.cram_md5_ipad), bytes(cred.cram_md5_opad)


@dataclass(frozen=True)
class Resolved:
    account: Account | None
    mailbox: str
    error: str  # "", "domain" (not configured) or "user" (no such user)


def resolve_incoming(addr: Address, hostname: str) -> Resolved:
    """Recipient rules of reference §1.1.8 for incoming mail."""
    dest = account_actions.resolve_recipient(
        addr.localpart, addr.domain.ascii if addr.domain else "", hostname=hostname
    )
    if dest is not None:
        return Resolved(dest.account, dest.mailbox, "")
    if addr.domain is not None and account_actions.find_domain(addr.domain.ascii) is None:
        is_pm = addr.localpart.lower() == "postmaster"
        if not (is_pm and account_actions.domain_forms_safe(addr.domain.ascii)
                == account_actions.domain_forms_safe(hostname)):
            return Resolved(None, "", "domain")
    return Resolved(None, "", "user")


def address_belongs_to(account_id: int, addr: Address) -> bool:
    """mox: an address of the account, after catchall separator and case rules (the
    account's `@domain` catchall counts)."""
    if addr.domain is None:
        return False
    dest = account_actions.resolve_recipient(addr.localpart, addr.domain.ascii, allow_postmaster=False)
    return dest is not None and dest.account.pk == account_id


def deliver_file(account: Account, mailbox: str, path: Path | None, prefix: bytes, info: DeliveryInfo,
                 *, seen: bool = False, then_for: Callable[[Summary], Callable[[Message], object] | None] | None = None,
                 data: bytes | None = None) -> Message:
    """Store for one recipient; mox's automatic $Junk/$NotJunk flags by destination
    mailbox apply (mox-v0.0.5 1.2.8), and a flagged message trains the junk filter.
    `then_for` and `data` are mailstore.actions.deliver's."""
    return run_steps(deliver_file_steps(account, mailbox, path, prefix, info, seen=seen, then_for=then_for, data=data))


def deliver_file_steps(account: Account, mailbox: str, path: Path | None, prefix: bytes, info: DeliveryInfo,
                       *, seen: bool = False,
                       then_for: Callable[[Summary], Callable[[Message], object] | None] | None = None,
                       data: bytes | None = None, parsed: Parsed | None = None) -> DeliverySteps[Message]:
    """`deliver_file` as steps (mailstore.actions.DeliverySteps); `parsed` as
    `deliver_steps`'s."""
    from mailstore import junk
    from mailstore.actions import automatic_junk_flags

    flags = {Message.FLAG_NAMES[name] for name, on in automatic_junk_flags(account, mailbox).items() if on}
    if seen:
        flags.add("\\Seen")
    message = yield from deliver_steps(account, mailbox, path, prefix=prefix, info=info, flags=flags,
                                       then_for=then_for, data=data, parsed=parsed)
    if flags - {"\\Seen"}:
        junk.retrain_for_flags(message)
    return message


def deliver_incoming_steps(account: Account, mailbox: str, spool: Spool, prefix: bytes, info: DeliveryInfo,
                           *, seen: bool, message_id: str | None, report: Any = None) -> DeliverySteps[None]:
    """An accepted incoming message: stored, its report saved, and a copy of it in the
    Rejects mailbox (same Message-ID) removed (mox-v0.0.5 1.1.11 steps f and h), in
    the delivery's own transaction: both happen or neither does. Whether there is such
    a copy is read before that transaction, in this thread (the shared transaction of
    group commit runs no query a delivery does not need); one rejected meanwhile stays.
    `message_id` None: the stored message's (the header was not parsed before).
    Steps (mailstore.actions.DeliverySteps): the SMTP server runs them in its delivery
    thread, or on PostgreSQL with `run_steps`."""
    rejects = rejects_mailbox(account)
    removed = 0

    def removal(summary: Summary) -> Callable[[Message], object] | None:
        mid = summary.message_id if message_id is None else message_id
        if not (rejects and mid and normalize_mailbox_name(mailbox) != normalize_mailbox_name(rejects)
                and in_rejects(account.pk, rejects, mid)):
            return None

        def remove(message: Message) -> None:
            nonlocal removed
            removed = mailstore_actions.remove_rejects(account, rejects, mid)

        return remove

    source = spool.source()
    try:
        message = yield from deliver_file_steps(account, mailbox, source, prefix, info, seen=seen,
                                                then_for=removal, data=spool.data, parsed=spool.parsed())
    except OSError as exc:
        if source is not None:
            raise
        raise SpoolError(str(exc)) from exc  # the bytes in memory found no room on disk
    if removed:
        log.info("removed from rejects", extra={"account": account.name, "n": removed})
    if report is not None:
        try:
            report.store(account, message)
        except Exception:  # noqa: BLE001 - the message is delivered; the report is lost
            log.exception("storing report failed", extra={"account": account.name})


def in_rejects(account_id: int, rejects: str, message_id: str) -> bool:
    """Whether the Rejects mailbox holds a message with this Message-ID. Found through
    the mailbox's unique (account, name) index and then the mailbox's own messages: a
    filter on the message's account let SQLite walk every message of the account. Raw
    SQL: it runs for every delivery, and compiling the query cost more than running it.
    Within `rejects_checked_once` an empty Rejects mailbox is found once."""
    name = normalize_mailbox_name(rejects)
    empty = getattr(_batch, "empty", None)
    if empty is not None:
        key = (account_id, name)
        if key not in empty:
            empty[key] = fetch_one(connections["default"], _ANY_REJECT, [account_id, name]) is None
        if empty[key]:
            return False
    return fetch_one(connections["default"], _IN_REJECTS, [account_id, name, message_id]) is not None


@contextmanager
def rejects_checked_once() -> Iterator[None]:
    """Deliveries made in this thread within: whether an account's Rejects mailbox holds
    any message at all is read once, and only a non-empty one is searched for each
    delivery's Message-ID. For a batch of deliveries made together (the SMTP delivery
    thread): Rejects is nearly always empty, and one query per message (with its GIL
    hand-over in a busy process) became one per batch. The answer is as old as the
    batch, as the per-message check was as old as its delivery's transaction: a copy
    rejected meanwhile stays."""
    _batch.empty = {}
    try:
        yield
    finally:
        del _batch.empty


_batch = threading.local()

# A message in an account's mailbox of this name (its Rejects).
_REJECT = (
    f"SELECT 1 FROM {Message._meta.db_table} m JOIN {Mailbox._meta.db_table} b ON m.mailbox_id = b.id"
    " WHERE b.account_id = %s AND b.name = %s"
)
_IN_REJECTS = _REJECT + " AND m.message_id = %s LIMIT 1"
_ANY_REJECT = _REJECT + " LIMIT 1"


def rejects_mailbox(account: Account) -> str:
    """mox: RejectsMailbox may not be Inbox (its messages are removed automatically)."""
    name = (account.rejects_mailbox or "").strip()
    return "" if not name or name.lower() == "inbox" else name


def keep_reject(account: Account, destined: str, spool: Spool, prefix: bytes, info: DeliveryInfo,
                message_id: str, sha256: str) -> str:
    """mox-v0.0.5 1.1.13: a rejected message goes to the Rejects mailbox, Seen, unless
    a message with the same Message-ID or hash is there already, or it holds 1000
    messages after removing those older than 14 days. With the account's keep_rejects
    (mox KeepRejects, v0.0.6) nothing is removed and there is no limit. Returns what
    happened."""
    rejects = rejects_mailbox(account)
    if not rejects:
        return "off"
    if not message_id and not sha256:
        return "unidentifiable"
    if mailstore_actions.reject_present(account, rejects, message_id, sha256):
        return "present"
    if not account.keep_rejects and not mailstore_actions.tidy_rejects(account, rejects):
        return "full"
    info = dataclasses.replace(info, destined_mailbox=destined, message_hash=sha256)
    deliver_file(account, rejects, spool.file(), prefix, info, seen=True, data=spool.data)
    return "stored"


def reputation_for(account: Account, mailbox: str, facts: Facts) -> Reputation:
    """Reputation for delivery to `mailbox` (its id; none yet when it does not exist)."""
    mailbox_id = Mailbox.objects.filter(account=account, name=normalize_mailbox_name(mailbox)).values_list(
        "pk", flat=True).first()
    return reputation(account.pk, mailbox_id, facts)


def subjectpass_key(account: Account) -> bytes:
    """The account's subjectpass secret, made at first use."""
    import secrets as _secrets

    key = Account.objects.filter(pk=account.pk).values_list("subjectpass_key", flat=True).first() or ""
    if not key:
        key = _secrets.token_hex(32)
        # Two first uses at once: the first one written wins, both use the stored one.
        Account.objects.filter(pk=account.pk, subjectpass_key="").update(subjectpass_key=key)
        key = Account.objects.filter(pk=account.pk).values_list("subjectpass_key", flat=True).first() or key
    return key.encode("ascii")


@dataclass
class HeaderCheck:
    has_header: bool = False
    froms: list[str] | None = None  # None when missing or unparsable
    has_return_path: bool = False
    has_message_id: bool = False
    has_date: bool = False


def header_from(path: Path, limit: int = 1024 * 1024) -> HeaderCheck:
    """What submission checks need from the header section (RFC 5322 section 3.6)."""
    with open(path, "rb") as fh:
        head = fh.read(limit)
    end = head.find(b"\r\n\r\n")
    if end < 0:
        return HeaderCheck()
    from_values: list[bytes] = []
    check = HeaderCheck(has_header=True)
    current: bytearray | None = None
    for line in head[: end + 2].split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current += line
            continue
        name, colon, value = line.partition(b":")
        current = None
        key = name.strip().lower()
        if key == b"return-path":
            check.has_return_path = True
        elif key == b"message-id":
            check.has_message_id = True
        elif key == b"date":
            check.has_date = True
        elif key == b"from" and colon:
            current = bytearray(value)
            from_values.append(current)  # type: ignore[arg-type]
    if len(from_values) != 1:
        return check
    try:
        text = bytes(from_values[0]).decode("utf-8")
    except UnicodeDecodeError:
        return check
    check.froms = header_addresses(text)
    return check


def header_addresses(value: str) -> list[str] | None:
    """The addr-specs of an RFC 5322 section 3.4 mailbox-list; None when malformed.
    Written here because email.utils.getaddresses is unsafe on Python 3.11 (CVE-2023-27043)."""
    mailboxes: list[str] = []
    angle: list[str] = []
    bare: list[str] = []
    in_angle = False
    i = 0
    n = len(value)

    def end_mailbox() -> bool:
        if len(angle) > 1:
            return False
        addr = angle[0] if angle else "".join(bare).strip()
        if not addr:
            return False
        mailboxes.append(addr.strip())
        angle.clear()
        bare.clear()
        return True

    current_angle: list[str] = []
    while i < n:
        c = value[i]
        if c == '"' and not in_angle:
            j = i + 1
            while j < n and value[j] != '"':
                j += 2 if value[j] == "\\" else 1
            if j >= n:
                return None
            bare.append(value[i : j + 1])
            i = j + 1
            continue
        if c == "(" and not in_angle:
            depth = 0
            while i < n:
                if value[i] == "\\":
                    i += 2
                    continue
                if value[i] == "(":
                    depth += 1
                elif value[i] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
            if depth != 0:
                return None
            i += 1
            continue
        if c == "<":
            if in_angle:
                return None
            in_angle = True
            current_angle = []
        elif c == ">":
            if not in_angle:
                return None
            in_angle = False
            angle.append("".join(current_angle))
            bare.clear()
        elif c == ")" and not in_angle:
            return None
        elif c == "," and not in_angle:
            if not end_mailbox():
                return None
        elif in_angle:
            current_angle.append(c)
        elif not angle:
            bare.append(c)
        i += 1
    if in_angle or not end_mailbox():
        return None
    return mailboxes


def from_header_belongs_to(account_id: int, addrs: list[str]) -> bool:
    for text in addrs:
        try:
            addr = parse_address(text)
        except ValueError:
            return False
        if not address_belongs_to(account_id, addr):
            return False
    return True


def outgoing_limit_error(account: Account, recipients: list[Address]) -> str:
    """mox §1.1.15: messages and first-time recipients over the past 24 hours. Counted
    from queued rows (one per recipient) of the past day."""
    account = Account.objects.get(pk=account.pk)  # limits may have changed since login
    since = timezone.now() - timedelta(hours=24)
    recent = QueuedMessage.objects.filter(account=account, created__gte=since)
    count = recent.count()
    maxmsgs = account.max_outgoing_messages_per_day
    if count + len(recipients) > maxmsgs:
        return (f"max number of messages ({maxmsgs}) over past 24h reached, try increasing "
                f"per-account setting max_outgoing_messages_per_day")
    maxfirst = account.max_first_time_recipients_per_day
    if count + len(recipients) >= maxfirst:
        earlier = QueuedMessage.objects.filter(account=account, created__lt=since)
        known = {(r.recipient_localpart, r.recipient_domain) for r in earlier.only(
            "recipient_localpart", "recipient_domain")}
        first = {(r.recipient_localpart, r.recipient_domain) for r in recent.only(
            "recipient_localpart", "recipient_domain")} - known
        for addr in recipients:
            key = (addr.localpart, addr.domain.ascii if addr.domain else "")
            if key not in known:
                first.add(key)
        if len(first) > maxfirst:
            return (f"max number of new/first-time recipients ({maxfirst}) over past 24h reached, try "
                    f"increasing per-account setting max_first_time_recipients_per_day")
    return ""


def queue_message(
    account: Account, sender: Address | None, recipients: list[tuple[Address, list[str], str]], path: Path,
    prefix: bytes, *, has_8bit: bool, smtputf8: bool, requiretls: bool | None, ret: str, envid: str,
) -> None:
    enqueue(
        account,
        sender.localpart if sender else "",
        sender.domain_text if sender else "",
        [QueueRecipient(a.localpart, a.domain_text, notify, orcpt) for a, notify, orcpt in recipients],
        path,
        prefix=prefix,
        has_8bit=has_8bit,
        smtputf8=smtputf8,
        requiretls=requiretls,
        dsn_ret=ret,
        dsn_envid=envid,
    )
    # Reputation: replies from these addresses are wanted (mox fills Recipient when a
    # message lands in Sent; here when it is submitted, Bcc included).
    mailstore_actions.record_sent_recipients(
        account, [(a.localpart, a.domain.ascii) for a, _, _ in recipients if a.domain is not None])
    if not settings.Q_CLUSTER.get("sync"):
        # Deliver now, not at the next minute's scan: a worker runs this scan within the
        # broker's poll interval. (Tests run django-q2 synchronously and drive the queue.)
        from django_q.tasks import async_task

        async_task("mailqueue.tasks.scan_queue", task_name="scan after submission", group="mailqueue")


# mox §1.1.9 delivery limits per recipient account, by the sending network:
# (window seconds, Go-style name, messages per class, bytes per class).
MB = 1024 * 1024
DELIVERY_LIMITS: list[tuple[int, str, tuple[int, int, int], tuple[int, int, int]]] = [
    (60, "1m0s", (500, 1500, 4500), (1000 * MB, 3000 * MB, 9000 * MB)),
    (24 * 3600, "24h0m0s", (10000, 30000, 90000), (3000 * MB, 9000 * MB, 27000 * MB)),
]


def delivery_rate_error(account_id: int, remote_ip: str, size: int,
                        limits: list[tuple[int, str, tuple[int, int, int], tuple[int, int, int]]]) -> str:
    """Count the account's stored messages from the same networks (the masked-IP
    columns, indexed with the received time); "" when within."""
    from django.db.models import Count, Sum

    from mailcore.ratelimit import masked_ips

    if not remote_ip or not limits:
        return ""
    try:
        mine = masked_ips(remote_ip)
    except ValueError:
        return ""
    now = timezone.now()
    for window, name, max_count, max_size in limits:
        since = now - timedelta(seconds=window)
        for ci in range(3):
            found = Message.objects.filter(
                account_id=account_id, received__gte=since, **{f"remote_ip_masked{ci + 1}": mine[ci]}
            ).aggregate(n=Count("id"), size=Sum("size"))
            if found["n"] >= max_count[ci]:
                return f"more than {max_count[ci]} messages in past {name} from your ip/network"
            if (found["size"] or 0) + size > max_size[ci]:
                return f"more than {max_size[ci]} bytes in past {name} from your ip/network"
    return ""


def dkim_signature(message_prefix: bytes, path: Path) -> bytes:
    """DKIM-Signature headers for a submitted message, from its From domain's signing
    keys (mox signs for the From domain, mox-v0.0.5 section 2.7); b"" without keys.
    Signs the headers we added for the client (Message-Id, Date) with the message."""
    from accounts.models import DKIMKey
    from mailcore.authn.dkimsign import SigningKey, sign_from
    from mailcore.authn.fromheader import from_domain

    data = message_prefix + path.read_bytes()
    domain = from_domain(data)
    if not domain:
        return b""
    keys = [
        SigningKey(k.selector, k.private_key_pem.encode())
        for k in DKIMKey.objects.filter(domain__ascii=domain, sign=True).order_by("selector")
    ]
    if not keys:
        return b""
    try:
        return sign_from(data, {domain: keys})
    except Exception:  # noqa: BLE001 - an unsignable message is still sent, unsigned
        log.exception("dkim signing failed", extra={"domain": domain})
        return b""


def queue_incoming_dsn(hostname: str, ehlo: str, remote_ip: str, sender: Address,
                       failures: list[tuple[Address, Reply]], spool: Spool, smtputf8: bool,
                       when: datetime) -> None:
    """mox-v0.0.5 1.1.12: one DSN (RFC 3464) for the recipients that failed while others
    were delivered, queued to the MAIL FROM with a null reverse path (RFC 5321 section
    6.1: no DSN about a DSN). The text names each recipient with its own error (mox
    swaps the two, quirk 2 of the reference)."""
    from mailcore.dsn import DSN, Action, compose
    from mailcore.dsn import Recipient as DSNRecipient
    from mailcore.dsn.compose import ascii_possible
    from mailstore import files

    first = failures[0][0]
    domain = first.domain_text if first.domain is not None else hostname
    lines = []
    recipients = []
    for addr, failure in failures:
        text = f"{failure.code} {failure.enhanced} {failure.text}".replace("\n", " ")
        lines.append(f"\t{addr.format(smtputf8)}\n\t\t{text}")
        recipients.append(DSNRecipient(
            final_recipient=addr.format(smtputf8), action=Action.failed,
            status=failure.enhanced or f"{failure.code // 100}.0.0", diagnostic=text,
        ))
    original = spool.read()
    dsn = DSN(
        reporting_mta=hostname,
        from_address=f"postmaster@{domain}",
        to_address=sender.format(smtputf8),
        subject="mail delivery failure",
        text=("Delivery of your message failed for these recipients (each with its error); it was "
              "delivered to the other recipients:\n\n" + "\n".join(lines)
              + "\n\nAttached are a machine-readable report and the header of the message.\n"),
        recipients=recipients,
        original=original,
        headers_only=True,
        received_from_mta=f"{ehlo} ({remote_ip})" if ehlo else remote_ip,
        arrival_date=when,
        date=timezone.now(),
    )
    data = compose(dsn)
    utf8: bytes | None = None
    if not data.isascii() and ascii_possible(dsn):
        # As mox: the 7-bit variant is the queued file, for a next hop without SMTPUTF8;
        # the UTF-8 one goes where SMTPUTF8 is offered, and to local recipients.
        data, utf8 = compose(dsn, seven_bit=True), data
    tmp = files.write_temp(data)
    try:
        enqueue(None, "", "", [QueueRecipient(sender.localpart, sender.domain_text)], tmp,
                has_8bit=not data.isascii(), smtputf8=not data.isascii(), dsn_utf8=utf8)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("dsn queued for failed recipients", extra={"to": sender.format(True), "n": len(failures)})
