"""Not an open relay: tried from outside on port 25 with the known tricks, and on the
submission ports without authenticating. Each attempt gets its exact refusal, and
nothing is queued for delivery elsewhere (nor stored locally)."""
from __future__ import annotations

import pytest

from mailqueue.models import QueuedMessage
from mailstore.models import Message
from tests.faults.processes import without_junk_checks

pytestmark = pytest.mark.django_db(transaction=True)

NOT_OURS = "550 5.1.1 not accepting email for domain"
NO_USER = "550 5.1.1 no such user"
BAD_SYNTAX = "501 5.5.2 bad syntax"

# (recipient as the client writes it, the exact reply to RCPT TO)
TRICKS = [
    ("carol@remote.test", NOT_OURS),  # plain relaying
    ("carol%remote.test@example.test", NO_USER),  # percent hack
    ("@example.test,@remote.test:carol@remote.test", NOT_OURS),  # source route, ends elsewhere
    ('"carol@remote.test"@example.test', NO_USER),  # quoted @
    ("carol@remote.test@example.test", BAD_SYNTAX),  # two @
    ("remote.test!carol@example.test", NO_USER),  # bang path
    ("carol@remote.test.", BAD_SYNTAX),  # trailing dot
    ("carol@[192.0.2.1]", "550 5.1.1 not accepting email for ip"),  # address literal
    ("carol@example.test.remote.test", NOT_OURS),  # our domain as a prefix
    ("carol\\@remote.test@example.test", BAD_SYNTAX),  # escaped @ outside quotes
    ("alice@example.test@remote.test", BAD_SYNTAX),
]


def patient_resolver(dns_server):  # type: ignore[no-untyped-def]
    """The sender's domain example.org has an MX; generous timeouts, since a loaded
    machine must not turn MAIL FROM into a temporary DNS failure."""
    dns_server.add("example.org", "MX", "10 mail.example.org.")
    dns_server.add("mail.example.org", "A", "192.0.2.10")
    return dns_server.resolver(timeout=5, lifetime=10)


@pytest.fixture
def port25(smtp_listener, dns_server, alice):  # type: ignore[no-untyped-def]
    return smtp_listener(localserve=False, hostname="mail.example.test", resolver=patient_resolver(dns_server))


def test_port_25_refuses_relaying_tricks(port25, raw_smtp) -> None:
    c = raw_smtp(port25)
    assert c.cmd("EHLO client.example").startswith("250")
    for rcpt, refusal in TRICKS:
        assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 looking good"
        assert c.cmd(f"RCPT TO:<{rcpt}>") == refusal, rcpt
        assert c.cmd("DATA") == "503 5.5.1 missing MAIL FROM/RCPT TO"
        assert c.cmd("RSET") == "250 2.0.0 all clear"
    assert QueuedMessage.objects.count() == 0
    assert Message.objects.count() == 0


def test_a_source_route_to_a_local_user_delivers_locally_and_relays_nothing(port25, raw_smtp, alice,
                                                                           dns_server) -> None:
    # RFC 5321 section 4.1.1.3: the route is ignored; the mail goes to the final address.
    without_junk_checks(alice)  # a first message from an unknown sender is not under test
    # mox §1.1.8: a second recipient is considered only after an SPF pass for MAIL FROM.
    dns_server.add("example.org", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    c = raw_smtp(port25)
    assert c.cmd("EHLO client.example").startswith("250")
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 looking good"
    assert c.cmd("RCPT TO:<@remote.test,@other.test:alice@example.test>") == "250 2.1.0 now on the list"
    assert c.cmd("RCPT TO:<@example.test:carol@remote.test>") == NOT_OURS
    assert c.cmd("DATA").startswith("354 ")
    assert c.cmd("Subject: routed\r\n\r\nhi\r\n.") == "250 2.2.0 it is done"
    assert QueuedMessage.objects.count() == 0
    assert list(Message.objects.values_list("account__name", "rcpt_to")) == [("alice", "alice@example.test")]


def test_an_idn_look_alike_of_our_domain_is_not_ours(port25, raw_smtp) -> None:
    # "exаmple.test" with a Cyrillic a, in UTF-8 (SMTPUTF8) and without it.
    c = raw_smtp(port25)
    assert c.cmd("EHLO client.example").startswith("250")
    assert c.cmd("MAIL FROM:<a@example.org> SMTPUTF8") == "250 2.1.0 looking good"
    assert c.cmd("RCPT TO:<alice@ex\u0430mple.test>") == NOT_OURS
    assert c.cmd("RCPT TO:<alice@xn--exmple-4nf.test>") == NOT_OURS  # the same as an A-label
    assert c.cmd("RSET") == "250 2.0.0 all clear"
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 looking good"
    assert c.cmd("RCPT TO:<alice@ex\u0430mple.test>") == "553 5.6.7 non-ascii address not permitted without smtputf8"
    assert QueuedMessage.objects.count() == 0


def test_port_25_does_not_take_auth_even_with_a_valid_password(smtp_listener, raw_smtp, alice, tls_files, dns_server) -> None:
    import base64

    srv = smtp_listener(localserve=False, hostname="mail.example.test", tls=tls_files.server_context(),
                        resolver=patient_resolver(dns_server))
    c = raw_smtp(srv)
    assert c.cmd("EHLO client.example").startswith("250")
    assert c.cmd("STARTTLS") == "220 2.0.0 go!"
    c.starttls(tls_files.client_context())
    ehlo = c.cmd("EHLO client.example")
    assert "AUTH" not in ehlo
    token = base64.b64encode(b"\0alice@example.test\0alicepassword").decode()
    assert c.cmd(f"AUTH PLAIN {token}") == "503 5.5.1 authentication only allowed on submission ports"
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 looking good"
    assert c.cmd("RCPT TO:<carol@remote.test>") == NOT_OURS
    assert QueuedMessage.objects.count() == 0


@pytest.mark.parametrize("kind", ["submission", "submissions"])
def test_submission_without_authentication_relays_nothing(smtp_listener, raw_smtp, alice, tls_files, kind) -> None:
    srv = smtp_listener(kind=kind, localserve=False, hostname="mail.example.test", tls=tls_files.server_context())
    c = raw_smtp(srv, tls=tls_files.client_context() if kind == "submissions" else None)
    assert c.cmd("EHLO client.example").startswith("250")
    if kind == "submission":
        assert c.cmd("STARTTLS") == "220 2.0.0 go!"
        c.starttls(tls_files.client_context())
        assert c.cmd("EHLO client.example").startswith("250")
    assert c.cmd("MAIL FROM:<alice@example.test>") == "530 5.7.0 authentication required"
    assert c.cmd("RCPT TO:<carol@remote.test>") == "530 5.7.0 authentication required"
    assert c.cmd("DATA") == "530 5.7.0 authentication required"
    assert QueuedMessage.objects.count() == 0
