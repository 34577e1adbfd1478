"""Response headers and cookie flags every page gets (reference 1.3.1: mox's built-in
handlers send X-Frame-Options, X-Content-Type-Options, a Content-Security-Policy and
Referrer-Policy). Django's own middleware sends the first, second and fourth; this adds
the policy and makes the session and CSRF cookies `Secure` when the page came over HTTPS.

The policy allows scripts and styles only from our own origin: no inline scripts, no
inline style attributes, so an injected tag cannot run. One listener serves both HTTP
and HTTPS, so `SESSION_COOKIE_SECURE` cannot be a fixed setting: a cookie set over plain
HTTP (localserve, an HTTP-only install) must still come back.
"""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if request.is_secure():
            for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
                if name in response.cookies:
                    response.cookies[name]["secure"] = True
        return response
