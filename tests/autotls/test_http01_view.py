"""The HTTP-01 answer view (RFC 8555 section 8.3)."""
from __future__ import annotations

from django.test import Client

from autotls import store
from autotls.challenges import http01_response


def test_it_answers_a_pending_token(settings, tmp_path) -> None:
    settings.DATA_DIR = tmp_path
    settings.ROOT_URLCONF = "tests.autotls.urls"
    store.write_private(store.http01_path("tok-EN_1"), b"tok-EN_1.thumbprint")  # type: ignore[arg-type]
    response = Client().get("/.well-known/acme-challenge/tok-EN_1", HTTP_HOST="mail.example.test")
    assert response.status_code == 200
    assert response.content == b"tok-EN_1.thumbprint"
    assert response["Content-Type"] == "application/octet-stream"


def test_it_returns_404_for_unknown_and_malformed_tokens(settings, tmp_path) -> None:
    settings.DATA_DIR = tmp_path
    settings.ROOT_URLCONF = "tests.autotls.urls"
    (tmp_path / "secret").write_text("not a challenge")
    client = Client()
    assert client.get("/.well-known/acme-challenge/unknown").status_code == 404
    assert client.get("/.well-known/acme-challenge/..%2F..%2F..%2Fsecret").status_code == 404
    assert http01_response("../../../secret") is None
    assert http01_response("a.b") is None
