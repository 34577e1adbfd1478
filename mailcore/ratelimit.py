"""Rate limits per IP network, as mox's ratelimit package (reference §1.1.9).

A limiter has one or more fixed windows (time cut into equal slots; counts start
over when the slot changes, or never for a window of None). Each window holds a limit
for three network sizes of the remote IP: IPv4 /32, /26, /21 and IPv6 /64, /48, /32.
A request is allowed only when every class in every window stays within its limit;
then all of them are counted. The clock is injected so tests can move time.
"""
from __future__ import annotations

import functools
import ipaddress
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

IPv4_PREFIXES = (32, 26, 21)
IPv6_PREFIXES = (64, 48, 32)

Clock = Callable[[], float]


@functools.lru_cache(maxsize=4096)  # every delivery and connection asks; few distinct IPs
def masked_ips(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[str, str, str]:
    """The remote IP's three networks, most specific first (an IPv4-mapped IPv6 address
    counts as IPv4)."""
    addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    prefixes = IPv4_PREFIXES if addr.version == 4 else IPv6_PREFIXES
    return tuple(  # type: ignore[return-value]
        str(ipaddress.ip_network(f"{addr}/{p}", strict=False)) for p in prefixes
    )


@dataclass
class WindowLimit:
    """Limits for the three classes within one window; `window` None never resets."""

    window: float | None
    limits: tuple[int, int, int]
    _slot: int = -1
    _counts: list[dict[str, int]] = field(default_factory=lambda: [{}, {}, {}])

    def _roll(self, now: float) -> None:
        if self.window is None:
            return
        slot = int(now // self.window)
        if slot != self._slot:
            self._slot = slot
            self._counts = [{}, {}, {}]


class Limiter:
    """Thread-safe, so SMTP, IMAP and the web (in threads) can share one instance."""

    def __init__(self, windows: list[WindowLimit], clock: Clock = time.time) -> None:
        self.windows = windows
        self.clock = clock
        self._lock = threading.Lock()

    def _can_add(self, keys: tuple[str, str, str], n: int, now: float) -> bool:
        for w in self.windows:
            w._roll(now)
            for i, key in enumerate(keys):
                if w._counts[i].get(key, 0) + n > w.limits[i]:
                    return False
        return True

    def can_add(self, ip: str, n: int = 1) -> bool:
        keys = masked_ips(ip)
        with self._lock:
            return self._can_add(keys, n, self.clock())

    def add(self, ip: str, n: int = 1) -> bool:
        """Count `n` for `ip` if that stays within every limit; else count nothing."""
        keys = masked_ips(ip)
        with self._lock:
            now = self.clock()
            if not self._can_add(keys, n, now):
                return False
            for w in self.windows:
                for i, key in enumerate(keys):
                    w._counts[i][key] = w._counts[i].get(key, 0) + n
            return True

    def subtract(self, ip: str, n: int = 1) -> None:
        """Undo `n` (open connections: one less when a connection closes)."""
        keys = masked_ips(ip)
        with self._lock:
            now = self.clock()
            for w in self.windows:
                w._roll(now)
                for i, key in enumerate(keys):
                    left = w._counts[i].get(key, 0) - n
                    if left > 0:
                        w._counts[i][key] = left
                    else:
                        w._counts[i].pop(key, None)

    def reset(self, ip: str) -> None:
        """Forget this exact IP's counts in every class (mox: after a successful login)."""
        keys = masked_ips(ip)
        with self._lock:
            now = self.clock()
            for w in self.windows:
                w._roll(now)
                own = w._counts[0].get(keys[0], 0)
                if own:
                    for i, key in enumerate(keys):
                        left = w._counts[i].get(key, 0) - own
                        if left > 0:
                            w._counts[i][key] = left
                        else:
                            w._counts[i].pop(key, None)


MINUTE = 60.0
DAY = 24 * 3600.0


def connection_rate_limiter(clock: Clock = time.time) -> Limiter:
    """New connections per minute: 300 / 900 / 2700 (mox SMTP and IMAP, separately)."""
    return Limiter([WindowLimit(MINUTE, (300, 900, 2700))], clock)


def open_connections_limiter(clock: Clock = time.time) -> Limiter:
    """Concurrent connections: 30 / 90 / 270; subtract on close."""
    return Limiter([WindowLimit(None, (30, 90, 270))], clock)


def auth_failure_limiter(clock: Clock = time.time) -> Limiter:
    """Failed logins, shared by SMTP, IMAP and the web: 10/30/90 a minute, 50/150/450 a day."""
    return Limiter([WindowLimit(MINUTE, (10, 30, 90)), WindowLimit(DAY, (50, 150, 450))], clock)


_shared_auth_failures: Limiter | None = None


def shared_auth_failures() -> Limiter:
    """The one failed-login limiter of this process (mox limitauth)."""
    global _shared_auth_failures
    if _shared_auth_failures is None:
        _shared_auth_failures = auth_failure_limiter()
    return _shared_auth_failures
