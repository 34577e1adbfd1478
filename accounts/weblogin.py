"""Password guessing on the web login pages (admin and account), limited per remote
network and per user name.

Per network: the failed-login limiter SMTP and IMAP share (mailcore.ratelimit, mox
limitauth, reference 1.1.9), so failures on any protocol count for all. Per user: a
guesser spread over many addresses still gets only `USER_LIMITS` tries for one user
name. A success forgets the failures of that address and that user.
"""
from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from mailcore.ratelimit import DAY, MINUTE, shared_auth_failures

log = logging.getLogger(__name__)

# (window seconds, failures allowed in it) per user name.
USER_LIMITS: tuple[tuple[float, int], ...] = ((MINUTE, 10), (DAY, 50))


class UserFailures:
    """Failed logins per user name in fixed windows; thread-safe."""

    def __init__(self, limits: tuple[tuple[float, int], ...] = USER_LIMITS, clock: Callable[[], float] = time.time):
        self.limits = limits
        self.clock = clock
        self._lock = threading.Lock()
        # Per window: (slot number, counts by user name).
        self._windows: list[tuple[int, dict[str, int]]] = [(-1, {}) for _ in limits]

    def _current(self, i: int) -> dict[str, int]:
        slot = int(self.clock() // self.limits[i][0])
        if self._windows[i][0] != slot:
            self._windows[i] = (slot, {})
        return self._windows[i][1]

    def blocked(self, user: str) -> bool:
        with self._lock:
            return any(self._current(i).get(user, 0) >= limit for i, (_, limit) in enumerate(self.limits))

    def add(self, user: str) -> None:
        with self._lock:
            for i in range(len(self.limits)):
                counts = self._current(i)
                counts[user] = counts.get(user, 0) + 1

    def reset(self, user: str) -> None:
        with self._lock:
            for i in range(len(self.limits)):
                self._current(i).pop(user, None)


_user_failures: UserFailures | None = None


def user_failures() -> UserFailures:
    global _user_failures
    if _user_failures is None:
        _user_failures = UserFailures()
    return _user_failures


def _remote_ip(request: HttpRequest) -> str | None:
    ip = request.META.get("REMOTE_ADDR") or ""
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return None
    return ip


def _user_key(username: str) -> str:
    return username.strip().lower()


def login_blocked(request: HttpRequest, username: str) -> HttpResponse | None:
    """A 429 once the remote network or the user name has too many failed logins, else None."""
    ip = _remote_ip(request)
    if ip is not None and not shared_auth_failures().can_add(ip):
        log.info("web login rate limited", extra={"remote_ip": ip})
    elif user_failures().blocked(_user_key(username)):
        log.info("web login rate limited", extra={"username": username, "remote_ip": ip or ""})
    else:
        return None
    return HttpResponse("429 - too many auth attempts\n", status=429, content_type="text/plain; charset=utf-8")


def login_failed(request: HttpRequest, username: str) -> None:
    ip = _remote_ip(request)
    # The same line as SMTP and IMAP log, for fail2ban and the like.
    log.info("failed authentication attempt", extra={"username": username, "mechanism": "web", "remote_ip": ip or ""})
    if ip is not None:
        shared_auth_failures().add(ip)
    user_failures().add(_user_key(username))


def login_succeeded(request: HttpRequest, username: str) -> None:
    ip = _remote_ip(request)
    if ip is not None:
        shared_auth_failures().reset(ip)
    user_failures().reset(_user_key(username))
