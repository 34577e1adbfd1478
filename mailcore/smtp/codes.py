"""SMTP reply codes (RFC 5321 section 4.2) with enhanced status codes (RFC 3463, RFC 5248).

A `Reply` is one complete response; `SMTPError` carries one so that command handlers
can bail out from any depth. The texts of the fixed replies follow mox v0.0.5.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

# Enhanced status code subjects and details (RFC 3463 section 3), without the class digit.
SE_OTHER = "0.0"
SE_ADDR_OTHER = "1.0"  # X.1.0
SE_BAD_DEST_MAILBOX = "1.1"  # X.1.1
SE_BAD_DEST_SYNTAX = "1.3"  # X.1.3
SE_DEST_VALID = "1.5"  # X.1.5
SE_BAD_SENDER_SYNTAX = "1.7"  # X.1.7
SE_MAILBOX_FULL = "2.2"  # X.2.2
SE_MSG_TOO_BIG_SYSTEM = "2.3"  # X.2.3 message length exceeds administrative limit
SE_SYSTEM_OTHER = "3.0"  # X.3.0
SE_SYSTEM_FULL = "3.1"  # X.3.1
SE_SYSTEM_NOT_ACCEPTING = "3.2"  # X.3.2
SE_MSG_TOO_BIG = "3.4"  # X.3.4 message too big for system
SE_ROUTING_OTHER = "4.0"  # X.4.0
SE_LOOP = "4.6"  # X.4.6
SE_PROTO_OTHER = "5.0"  # X.5.0
SE_PROTO_CMD = "5.1"  # X.5.1 invalid command
SE_PROTO_SYNTAX = "5.2"  # X.5.2 syntax error
SE_TOO_MANY_RCPTS = "5.3"  # X.5.3
SE_PROTO_PARAMS = "5.4"  # X.5.4 invalid command arguments
SE_MEDIA_OTHER = "6.0"  # X.6.0
SE_NON_ASCII = "6.7"  # X.6.7 (RFC 6531 section 3.7.4)
SE_SEC_OTHER = "7.0"  # X.7.0
SE_DELIVERY_UNAUTHORIZED = "7.1"  # X.7.1
SE_AUTH_RATELIMIT = "7.0"
SE_AUTH_MECH_WEAK = "7.9"
SE_AUTH_CREDENTIALS = "7.8"  # X.7.8 (RFC 4954 section 6)
SE_AUTH_ENCRYPTION = "7.11"  # X.7.11 (RFC 4954)
SE_REQUIRETLS = "7.10"  # X.7.10 (RFC 8689 section 5)
SE_DMARC_POLICY = "7.26"  # X.7.26 multiple authentication checks failed (RFC 7372 section 3.2)
SE_PARAM_OTHER = "3.3"  # X.3.3 system not capable of selected features


@dataclass(frozen=True)
class Reply:
    """`code` (e.g. 250), `enhanced` (e.g. "2.1.0", or "" for none) and `text`."""

    code: int
    enhanced: str
    text: str

    def lines(self) -> list[str]:
        """RFC 5321 section 4.2.1: multi-line replies repeat the code with "-"."""
        parts = self.text.split("\n")
        prefix = f"{self.code}"
        out = []
        for i, part in enumerate(parts):
            sep = " " if i == len(parts) - 1 else "-"
            ecode = f"{self.enhanced} " if self.enhanced else ""
            out.append(f"{prefix}{sep}{ecode}{part}")
        return out

    def encode(self) -> bytes:
        """The reply's bytes on the wire, made once per Reply (most are the module's
        constants, written for every command)."""
        return self._encoded

    @functools.cached_property
    def _encoded(self) -> bytes:
        return "".join(line + "\r\n" for line in self.lines()).encode("utf-8")

    def __str__(self) -> str:
        return "\r\n".join(self.lines())

    @property
    def permanent(self) -> bool:
        return self.code >= 500

    def with_id(self, received_id: str) -> Reply:
        """An error reply (4xx, 5xx) with the connection's id appended to its last line,
        as mox does, so a sender who quotes it can be found in the logs; others as is."""
        if self.code < 400 or not received_id:
            return self
        return Reply(self.code, self.enhanced, f"{self.text} ({received_id})")


def reply(code: int, detail: str, text: str) -> Reply:
    """A reply whose enhanced code's class digit follows the reply code's first digit."""
    return Reply(code, f"{code // 100}.{detail}" if detail else "", text)


class SMTPError(Exception):
    """Raised by command handlers; the connection writes `reply` and, if `close`, hangs up."""

    def __init__(self, reply: Reply, *, close: bool = False) -> None:
        super().__init__(str(reply))
        self.reply = reply
        self.close = close


# Success replies (mox v0.0.5 texts).
RSET_OK = reply(250, SE_OTHER, "all clear")
NOOP_OK = reply(250, SE_OTHER, "alrighty")
VRFY_OK = Reply(252, "2.7.0", "no verify but will try delivery")
EXPN_OK = Reply(252, "2.7.0", "no expand but will try delivery")
HELP_OK = reply(214, SE_OTHER, "see rfc 5321 (smtp)")
QUIT_OK = reply(221, SE_OTHER, "okay thanks bye")
STARTTLS_OK = reply(220, SE_OTHER, "go!")
AUTH_OK = Reply(235, "2.7.0", "nice")
MAIL_OK = reply(250, SE_ADDR_OTHER, "looking good")
RCPT_OK = reply(250, SE_ADDR_OTHER, "now on the list")
DATA_GO = Reply(354, "", "see you at the bare dot")
BDAT_OK_TEXT = "chunk received"
DATA_OK = reply(250, "2.0", "it is done")

# Errors used in several places.
UNKNOWN_COMMAND = reply(500, SE_PROTO_CMD, "unknown command")
FIRST_COMMAND_NOT_SMTP = reply(500, SE_PROTO_SYNTAX, "please try again speaking smtp")
NO_EHLO = reply(503, SE_PROTO_CMD, "no ehlo/helo yet")
NESTED_MAIL = reply(503, SE_PROTO_CMD, "already have MAIL")
MISSING_MAIL = reply(503, SE_PROTO_CMD, "missing MAIL FROM")
MISSING_RCPT = reply(503, SE_PROTO_CMD, "missing MAIL FROM/RCPT TO")
AUTH_REQUIRED = reply(530, SE_SEC_OTHER, "authentication required")
STARTTLS_REQUIRED = reply(530, SE_SEC_OTHER, "STARTTLS required for mail delivery")
UNRECOGNIZED_PARAM = reply(555, SE_PARAM_OTHER, "unrecognized parameter")
TOO_MANY_RCPTS = reply(452, SE_TOO_MANY_RCPTS, "max of 100 recipients reached")
SHUTTING_DOWN = reply(421, SE_SYSTEM_NOT_ACCEPTING, "shutting down")
# The database is unreachable or locked (RFC 5321 section 4.2.3: 451 local error).
DATABASE_UNAVAILABLE = reply(451, SE_SYSTEM_OTHER, "temporary error, try again later")
