"""Reputation from the account's history decides before the content does (mox-v0.0.5
1.1.11 step 5 and the reputation algorithm), over real SMTP with the test DNS server."""
from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from mailstore.actions import DeliveryInfo, deliver_bytes, set_flags
from mailstore.models import Mailbox, Message, Recipient
from smtpserver.reputation import Facts, Method, reputation
from tests.smtp.incoming import ZONE, message, reason_of, send
from tests.smtp.incoming import in_mailbox as inbox
from tests.smtp.incoming import listener  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)


def mark(msg: Message, flag: str) -> None:
    set_flags(msg.account_id, msg.mailbox_id, [msg.uid], "add", [flag])


def history(account, n: int, *, junk: bool, age: timedelta = timedelta(days=1), **info: object) -> None:  # type: ignore[no-untyped-def]
    """Earlier Inbox messages with the given DeliveryInfo, flagged by the user."""
    for i in range(n):
        deliver_bytes(account, "Inbox", f"Subject: old {i}\r\n\r\nold\r\n".encode(),
                      received=timezone.now() - age, flags={"$Junk" if junk else "$NotJunk"},
                      info=DeliveryInfo(**info))  # type: ignore[arg-type]


def test_a_sender_marked_as_junk_is_refused_and_accepted_once_marked_notjunk(listener, raw_smtp, alice):
    c = raw_smtp(listener)
    assert send(c, "bob@sender.example", message("bob@sender.example", msgid="1@s")) == "250 2.2.0 it is done"
    [first] = inbox(alice)
    assert reason_of(first) == "no-bad-signals"
    mark(first, "$Junk")
    # msgfromfull: the newest message from this validated address is junk.
    assert send(c, "bob@sender.example", message("bob@sender.example", msgid="2@s")) == "451 4.3.0 error processing"
    [kept] = Message.objects.filter(account=alice, mailbox__name="Rejects")
    assert reason_of(kept) == "msgfromfull"
    # The user finds it in Rejects and moves it to the Inbox: it now counts for the Inbox.
    from mailstore.actions import move

    move(alice, kept.mailbox_id, [kept.uid], "Inbox")
    moved = inbox(alice)[-1]
    assert (moved.mailbox_orig, moved.mailbox_destined) == (moved.mailbox_id, None)
    mark(moved, "$NotJunk")
    assert send(c, "bob@sender.example", message("bob@sender.example", msgid="3@s")) == "250 2.2.0 it is done"
    assert reason_of(inbox(alice)[-1]) == "msgfromfull"


def test_mail_from_someone_the_account_wrote_to_is_accepted_despite_spf_softfail(
        smtp_listener, dns_server, raw_smtp, alice, smtp_tls_context, tls_files):
    dns_server.add_zone(ZONE)
    sub = smtp_listener(kind="submissions", localserve=False, tls=smtp_tls_context(), hostname="mail.example.test")
    c = raw_smtp(sub, tls=tls_files.client_context())
    c.cmd("EHLO client.example")
    assert c.cmd("AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0alicepassword").decode()) == "235 2.7.0 nice"
    assert send(c, "alice@example.test", "From: <alice@example.test>\r\nTo: x\r\nSubject: hi\r\n\r\nhi\r\n.",
                rcpts=("Carol@soft.example", "dave@sub.soft.example")) == "250 2.2.0 it is done"
    assert sorted(Recipient.objects.filter(account=alice).values_list("localpart", "domain", "orgdomain")) == [
        ("Carol", "soft.example", "soft.example"), ("dave", "sub.soft.example", "soft.example")]
    incoming = raw_smtp(smtp_listener(localserve=False, hostname="mail.example.test"))
    # SPF softfails, which alone would turn it away (spf-policy); we wrote to Carol.
    assert send(incoming, "Carol@soft.example", message("Carol@soft.example")) == "250 2.2.0 it is done"
    assert reason_of(inbox(alice)[-1]) == "msgtofull"
    # Someone else at a domain we wrote to.
    assert send(incoming, "erin@soft.example", message("erin@soft.example")) == "250 2.2.0 it is done"
    assert reason_of(inbox(alice)[-1]) == "msgtodomain"


def test_a_domain_that_sent_only_junk_from_three_localparts_is_refused(listener, raw_smtp, alice):
    for lp in ("a", "b", "c"):
        history(alice, 1, junk=True, msg_from_localpart=lp, msg_from_domain="sender.example",
                msg_from_orgdomain="sender.example", msg_from_validation="strict")
    c = raw_smtp(listener)
    assert send(c, "new@sender.example", message("new@sender.example")) == "451 4.3.0 error processing"
    [kept] = Message.objects.filter(account=alice, mailbox__name="Rejects")
    assert reason_of(kept) == "msgfromdomain"


def test_a_network_with_a_good_history_outweighs_an_spf_softfail(listener, raw_smtp, alice):
    history(alice, 2, junk=False, remote_ip="127.0.0.1")
    c = raw_smtp(listener)
    assert send(c, "a@soft.example", message("a@soft.example")) == "250 2.2.0 it is done"
    assert reason_of(inbox(alice)[-1]) == "ip1"


def test_history_in_another_mailbox_does_not_count(listener, raw_smtp, alice):
    for i in range(2):
        deliver_bytes(alice, "Archive", f"Subject: {i}\r\n\r\nx\r\n".encode(), flags={"$NotJunk"},
                      info=DeliveryInfo(remote_ip="127.0.0.1"))
    c = raw_smtp(listener)
    assert send(c, "a@soft.example", message("a@soft.example")) == "451 4.3.0 error processing"


# The algorithm's windows, limits and minimum counts, on the same rows.

def facts(**kw: object) -> Facts:
    return Facts(**kw)  # type: ignore[arg-type]


def inbox_id(account) -> int:  # type: ignore[no-untyped-def]
    return Mailbox.objects.get(account=account, name="Inbox").pk


def test_ip_methods_need_more_messages_for_wider_networks(alice):
    ip = facts(remote_ip_masked=("10.0.0.9/32", "10.0.0.0/26", "10.0.0.0/21"))
    history(alice, 4, junk=True, remote_ip="10.0.0.20")  # same /26, not the same /32
    r = reputation(alice.pk, inbox_id(alice), ip)
    assert (r.junk, r.conclusive, r.method) == (True, False, Method.ip2)
    history(alice, 1, junk=True, remote_ip="10.0.0.21")
    r = reputation(alice.pk, inbox_id(alice), ip)
    assert (r.junk, r.conclusive, r.method) == (True, True, Method.ip2)
    history(alice, 9, junk=False, remote_ip="10.0.5.1")  # same /21 only: not consulted
    assert reputation(alice.pk, inbox_id(alice), ip).method == Method.ip2


def test_messages_outside_the_window_are_ignored(alice):
    ip = facts(remote_ip_masked=("10.0.0.9/32", "10.0.0.0/26", "10.0.0.0/21"))
    history(alice, 3, junk=False, remote_ip="10.0.0.9", age=timedelta(days=92))
    r = reputation(alice.pk, inbox_id(alice), ip)
    assert (r.junk, r.conclusive, r.method) == (None, False, Method.none)
    history(alice, 3, junk=False, remote_ip="10.0.0.9", age=timedelta(days=90))
    r = reputation(alice.pk, inbox_id(alice), ip)
    assert (r.junk, r.conclusive, r.method) == (False, True, Method.ip1)


def test_unvalidated_mail_from_an_address_that_used_to_validate_is_junk(alice):
    history(alice, 1, junk=False, msg_from_localpart="ceo", msg_from_domain="bank.example",
            msg_from_orgdomain="bank.example", msg_from_validation="dmarc")
    forged = facts(msg_from_localpart="ceo", msg_from_domain="bank.example", msg_from_orgdomain="bank.example")
    r = reputation(alice.pk, inbox_id(alice), forged)
    assert (r.junk, r.conclusive, r.method) == (True, False, Method.msgfromfull)


def test_dkim_domains_and_mixed_signals(alice):
    history(alice, 3, junk=False, dkim_domains=["list.example"])
    history(alice, 3, junk=True, dkim_domains=["spam.example"])
    signed = facts(dkim_domains=("list.example",))
    r = reputation(alice.pk, inbox_id(alice), signed)
    assert (r.junk, r.conclusive, r.method) == (False, True, Method.dkimspf)
    both = facts(dkim_domains=("list.example", "spam.example"))
    r = reputation(alice.pk, inbox_id(alice), both)
    assert (r.junk, r.conclusive, r.method) == (None, False, Method.dkimspf)
    # "example" is not a suffix match of the index: only whole domains count.
    assert reputation(alice.pk, inbox_id(alice), facts(dkim_domains=("example",))).method == Method.none


def test_a_domain_with_mostly_good_mail_is_ham_and_mixed_is_inconclusive(alice):
    common = {"msg_from_domain": "shop.example", "msg_from_orgdomain": "shop.example"}
    history(alice, 5, junk=False, msg_from_localpart="news", **common)
    new = facts(msg_from_localpart="orders", **common)
    r = reputation(alice.pk, inbox_id(alice), new)
    assert (r.junk, r.conclusive, r.method) == (False, True, Method.msgfromdomain)
    history(alice, 2, junk=True, msg_from_localpart="promo", **common)  # 5 of 7 good: 71%
    r = reputation(alice.pk, inbox_id(alice), new)
    assert (r.junk, r.conclusive, r.method) == (None, False, Method.msgfromdomain)
    # A sibling subdomain falls back to the organizational domain.
    sib = facts(msg_from_localpart="x", msg_from_domain="mail.shop.example", msg_from_orgdomain="shop.example")
    assert reputation(alice.pk, inbox_id(alice), sib).method == Method.msgfromorgdomain


def test_unflagged_messages_and_a_missing_mailbox_give_nothing(alice):
    deliver_bytes(alice, "Inbox", b"Subject: x\r\n\r\nx\r\n", info=DeliveryInfo(remote_ip="10.1.1.1"))
    ip = facts(remote_ip_masked=("10.1.1.1/32", "10.1.1.0/26", "10.1.0.0/21"))
    assert reputation(alice.pk, inbox_id(alice), ip).method == Method.none
    history(alice, 2, junk=False, remote_ip="10.1.1.1")
    assert reputation(alice.pk, None, ip).method == Method.none


def test_mail_signed_by_a_domain_with_a_good_history_is_accepted(listener, raw_smtp, dns_server, alice):
    """dkimspf over real DKIM signatures: a list signs as list.example; earlier signed
    mail the user kept counts for a new From domain that softfails SPF."""
    import time

    from mailcore.authn import dkimsign
    from mailcore.authn.dkimsign import SigningKey, sign
    from tests.authn.keys import ED25519

    dns_server.add("sel._domainkey.list.example", "TXT", dkimsign.dns_record(ED25519))

    def signed(data: str) -> str:
        raw = data[:-1].encode()
        return (sign(raw, "list.example", [SigningKey("sel", ED25519)], now=time.time()) + raw).decode() + "."

    c = raw_smtp(listener)
    assert send(c, "bob@sender.example", signed(message("bob@sender.example", msgid="1@l"))) == (
        "250 2.2.0 it is done")
    [first] = inbox(alice)
    assert (first.dkim_domains, list(first.dkim_rows.values_list("domain", flat=True))) == (
        ["list.example"], ["list.example"])
    mark(first, "$NotJunk")
    assert send(c, "a@soft.example", signed(message("a@soft.example", msgid="2@l"))) == "250 2.2.0 it is done"
    assert reason_of(inbox(alice)[-1]) == "dkimspf"
    # Unsigned, the same message is turned away for its SPF softfail.
    assert send(c, "a@soft.example", message("a@soft.example", msgid="3@l")) == "451 4.3.0 error processing"
