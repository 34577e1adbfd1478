from __future__ import annotations

import pytest


@pytest.mark.parametrize("url", ["/admin/login/", "/account/login/", "/admin/"])
def test_pages_forbid_framing_and_sniffing(client, admin_client, url):
    resp = (admin_client if url == "/admin/" else client).get(url)
    assert resp.status_code == 200
    assert resp["X-Frame-Options"] == "DENY"
    assert resp["X-Content-Type-Options"] == "nosniff"
    assert resp["Referrer-Policy"] == "same-origin"


def test_the_session_cookie_is_http_only(alice_client):
    assert alice_client.cookies["sessionid"]["httponly"] is True
    assert alice_client.cookies["sessionid"]["samesite"] == "Lax"
