"""mox appends its received id to every error reply; ours is the connection's `cid`, the
field every log line of the connection carries, so a sender quoting a refusal can be
found in the logs. Replies of success are left alone."""
from __future__ import annotations

from mailcore.smtp.codes import Reply


def test_error_replies_end_with_the_connection_id_and_others_do_not(smtp_listener, raw_smtp, localserve_account):
    srv = smtp_listener(error_ids=True)
    c = raw_smtp(srv)
    assert c.cmd("EHLO client.example").startswith("250")
    (conn,) = srv.config.active
    assert len(conn.cid) == 16
    assert c.cmd("NOOP") == "250 2.0.0 alrighty"
    assert c.cmd("RCPT TO:<mox@localhost>") == f"503 5.5.1 missing MAIL FROM ({conn.cid})"
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 looking good"
    # localserve's convention: a recipient localpart naming a code fails with it.
    assert c.cmd("RCPT TO:<rcptto550@localhost>") == (
        f"550 5.0.0 failure with code 550 due to special localpart ({conn.cid})")


def test_a_multiline_error_reply_gets_the_id_on_its_last_line():
    reply = Reply(554, "5.0.0", "550 5.1.1 first\n451 4.0.0 second\nmultiple errors").with_id("abc123")
    assert reply.lines() == ["554-5.0.0 550 5.1.1 first", "554-5.0.0 451 4.0.0 second",
                             "554 5.0.0 multiple errors (abc123)"]
    assert Reply(250, "2.0.0", "ok").with_id("abc123").text == "ok"
    assert Reply(550, "5.1.1", "no such user").with_id("").text == "no such user"


def test_a_reply_is_encoded_once_with_crlf_after_each_line():
    reply = Reply(250, "2.0.0", "first\nlast")
    assert reply.encode() == b"250-2.0.0 first\r\n250 2.0.0 last\r\n"
    assert reply.encode() is reply.encode()
    assert Reply(354, "", "go ahead").encode() == b"354 go ahead\r\n"
    assert reply == Reply(250, "2.0.0", "first\nlast") and hash(reply) == hash(Reply(250, "2.0.0", "first\nlast"))
