"""Redirects (mox WebRedirect): to another scheme and host, and/or to a rewritten path."""
from __future__ import annotations

from urllib.parse import quote

from webserver.config import Redirect
from webserver.responses import Scope, header


def redirect_location(h: Redirect, scope: Scope) -> tuple[int, str] | None:
    """(status, Location) for the request; (404, "") when the rewrite does not match;
    None when the redirect would lead to the very same URL (the next handler is tried:
    this is how a plain-HTTP-to-HTTPS redirect handler avoids a loop)."""
    path = scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    if h.orig_path is None:
        new_path = path
    elif h.orig_path.search(path) is None:
        return 404, ""
    else:
        new_path = h.orig_path.sub(h.replace_path, path)
    if h.base_url is None:
        # Path only: the client stays on this scheme and host.
        return h.status_code, quote(new_path) + (f"?{query}" if query else "")
    base = h.base_url
    combined = "&".join(q for q in (base.query, query) if q)
    if scope.get("scheme", "http") == base.scheme and header(scope, b"host") == base.netloc and path == new_path:
        return None
    location = (f"{base.scheme}:" if base.scheme else "") + f"//{base.netloc}{quote(new_path)}"
    location += f"?{combined}" if combined else ""
    location += f"#{base.fragment}" if base.fragment else ""
    return h.status_code, location
