"""HTTP-01 answers (RFC 8555 section 8.3), on every plain-HTTP host name."""
from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

from autotls.challenges import http01_response


def acme_challenge(request: HttpRequest, token: str) -> HttpResponse:
    body = http01_response(token)
    if body is None:
        raise Http404("no such challenge")
    # RFC 8555 section 8.3: the body is the key authorization; the example response
    # uses application/octet-stream.
    return HttpResponse(body, content_type="application/octet-stream")
