from __future__ import annotations


def test_it_serves_the_policy_for_a_configured_domain(client, domain):
    resp = client.get("/.well-known/mta-sts.txt", HTTP_HOST="mta-sts.example.test")
    assert resp.status_code == 200
    assert resp["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.content == b"version: STSv1\r\nmode: enforce\r\nmax_age: 604800\r\nmx: mail.example.org\r\n"
    assert "no-cache" in resp["Cache-Control"]


def test_it_ignores_the_port_and_case_of_the_host(client, domain):
    resp = client.get("/.well-known/mta-sts.txt", HTTP_HOST="MTA-STS.Example.Test:1443")
    assert resp.status_code == 200


def test_it_is_404_for_an_unknown_domain(client, domain):
    resp = client.get("/.well-known/mta-sts.txt", HTTP_HOST="mta-sts.other.example")
    assert resp.status_code == 404
    assert resp.text == "no MTA-STS policy for this host\n"


def test_it_is_404_for_a_host_without_the_prefix(client, domain):
    assert client.get("/.well-known/mta-sts.txt", HTTP_HOST="example.test").status_code == 404


def test_the_policy_id_in_dns_follows_the_policy(domain, settings):
    from wellknown.mtasts import current_policy

    before = current_policy().policy_id()
    settings.MOX_HOSTNAME = "mx2.example.org"
    assert current_policy().policy_id() != before
    assert len(before) == 20 and before.isalnum()
