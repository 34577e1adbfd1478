"""Client PIPELINING (RFC 2920): MAIL, the RCPTs and DATA in one write when the server
offers it, one command at a time when it does not; replies handled per recipient."""
from __future__ import annotations

import asyncio

import pytest

from mailqueue.tasks import deliver
from mailqueue.transports import Envelope, Peer, TLSMode, smtp_transaction
from tests.listeners import bound_socket
from tests.queue.conftest import MESSAGE, inbox_messages, queue_message
from tests.queue.recording_server import RecordingSMTP

pytestmark = pytest.mark.django_db


def serve(loop_thread, server: RecordingSMTP) -> int:  # type: ignore[no-untyped-def]
    sock = bound_socket()

    async def start():  # type: ignore[no-untyped-def]
        return await asyncio.start_server(server.handle, sock=sock)

    loop_thread.run(start())
    return int(sock.getsockname()[1])


def test_mail_rcpt_and_data_go_in_one_write_when_the_server_offers_pipelining(alice, mx_zone, loop_thread, settings):
    server = RecordingSMTP()
    settings.MOX_QUEUE_SMTP_PORT = serve(loop_thread, server)
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "delivered"

    (conn,) = server.connections
    assert conn.reads[0] == b"EHLO mox.example.test\r\n"
    assert conn.reads[1] == f"MAIL FROM:<alice@example.test> SIZE={len(MESSAGE)}\r\nRCPT TO:<carol@example.org>\r\nDATA\r\n".encode()
    assert conn.reads[2] == MESSAGE.replace(b"\r\n.leading", b"\r\n..leading") + b".\r\n"
    assert conn.reads[3:] == [b"QUIT\r\n"]
    assert server.messages[0].data == MESSAGE


def test_commands_go_one_at_a_time_without_pipelining(alice, mx_zone, loop_thread, settings):
    server = RecordingSMTP(pipelining=False)
    settings.MOX_QUEUE_SMTP_PORT = serve(loop_thread, server)
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "delivered"

    (conn,) = server.connections
    assert conn.reads[:4] == [
        b"EHLO mox.example.test\r\n",
        f"MAIL FROM:<alice@example.test> SIZE={len(MESSAGE)}\r\n".encode(),
        b"RCPT TO:<carol@example.org>\r\n",
        b"DATA\r\n",
    ]
    assert server.messages[0].data == MESSAGE


def test_a_refused_recipient_in_a_pipelined_batch_fails_without_sending_the_message(alice, mx_zone, loop_thread, settings):
    server = RecordingSMTP(rcpt_reply=lambda a: "550 5.1.1 no such user")
    settings.MOX_QUEUE_SMTP_PORT = serve(loop_thread, server)
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "failed"

    (conn,) = server.connections
    # DATA was refused (no valid recipients): the message never went out.
    assert conn.commands == ["EHLO mox.example.test", f"MAIL FROM:<alice@example.test> SIZE={len(MESSAGE)}",
                             "RCPT TO:<carol@example.org>", "DATA", "QUIT"]
    assert server.messages == []
    (dsn,) = inbox_messages(alice)
    assert b"Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n" in dsn


def test_an_empty_message_ends_a_transaction_whose_data_was_accepted_without_recipients(alice, mx_zone, loop_thread, settings):
    server = RecordingSMTP(rcpt_reply=lambda a: "450 4.2.1 mailbox busy", data_without_recipients=True)
    settings.MOX_QUEUE_SMTP_PORT = serve(loop_thread, server)
    qm = queue_message(alice, "alice@example.test", "carol@example.org", MESSAGE)

    assert deliver(qm.pk) == "retry"

    (conn,) = server.connections
    assert conn.reads[2:] == [b".\r\n", b"QUIT\r\n"]  # not the message
    assert server.messages == []
    qm.refresh_from_db()
    assert qm.last_error == "RCPT TO: 450 4.2.1 mailbox busy"


def test_several_recipients_get_their_own_replies(loop_thread):
    server = RecordingSMTP(rcpt_reply=lambda a: "550 5.1.1 unknown" if a.startswith("b@") else None)
    port = serve(loop_thread, server)
    env = Envelope(mail_from="<s@example.test>", rcpt_to="<a@example.org>", extra_rcpts=["<b@example.org>", "<c@example.org>"],
                   data=MESSAGE)

    peer = Peer(host="127.0.0.1", connect_host="127.0.0.1", port=port, tls_mode=TLSMode.none, ehlo_name="client.example",
                timeout=10)
    out = asyncio.run(smtp_transaction(peer, env))

    assert (out.ok, out.permanent, out.text) == (False, True, "RCPT TO <b@example.org>: 550 5.1.1 unknown")
    (conn,) = server.connections
    assert conn.reads[1] == (
        f"MAIL FROM:<s@example.test> SIZE={len(MESSAGE)}\r\n"
        "RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n"
    ).encode()
    # The accepted recipients got the message; the refused one is named in the outcome.
    assert [(m.rcpt_tos, m.data) for m in server.messages] == [(["a@example.org", "c@example.org"], MESSAGE)]
