"""What the web layer calls to answer HTTP-01 (RFC 8555 section 8.3)."""
from __future__ import annotations

from autotls import store


def http01_response(token: str) -> str | None:
    """The key authorization for a pending HTTP-01 token, or None. The issuer writes
    it to the data directory, so it may run in another process than the web listener."""
    path = store.http01_path(token)
    if path is None:
        return None
    try:
        return path.read_text("ascii")
    except FileNotFoundError:
        return None
