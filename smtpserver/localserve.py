"""mox localserve's special recipient localparts (reference §1.1.18).

A localpart ending in `temperror` fails with 451, `permerror` with 550, three digits
4xx/5xx with that code, and `timeout` hangs. The failure happens at DATA, or at MAIL
when the sender's localpart starts with `mailfrom`, or at RCPT when the recipient's
localpart starts with `rcptto`.
"""
from __future__ import annotations

from dataclasses import dataclass

from mailcore.smtp.codes import Reply


@dataclass(frozen=True)
class SpecialFailure:
    code: int  # 0 with timeout
    timeout: bool = False

    def reply(self) -> Reply:
        return Reply(self.code, f"{self.code // 100}.0.0", f"failure with code {self.code} due to special localpart")


TIMEOUT_REPLY = Reply(451, "4.0.0", "timeout due to special localpart")


def special_failure(localpart: str) -> SpecialFailure | None:
    lp = localpart.lower()
    if lp.endswith("temperror"):
        return SpecialFailure(451)
    if lp.endswith("permerror"):
        return SpecialFailure(550)
    if lp.endswith("timeout"):
        return SpecialFailure(0, timeout=True)
    tail = lp[-3:]
    if len(tail) == 3 and tail.isdigit() and tail[0] in "45":
        return SpecialFailure(int(tail))
    return None
