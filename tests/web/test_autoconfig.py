from __future__ import annotations

EXPECTED = """\
<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.test">
    <domain>example.test</domain>
    <displayName>alice@example.test</displayName>
    <displayShortName>example.test</displayShortName>
    <incomingServer type="imap">
      <hostname>mail.example.org</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>alice@example.test</username>
      <authentication>password-encrypted</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>mail.example.org</hostname>
      <port>465</port>
      <socketType>SSL</socketType>
      <username>alice@example.test</username>
      <authentication>password-encrypted</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""


def test_it_serves_the_thunderbird_config(client, domain):
    resp = client.get("/mail/config-v1.1.xml?emailaddress=alice@example.test")
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/xml; charset=utf-8"
    assert resp.text == EXPECTED


def test_it_serves_the_well_known_path_too(client, domain):
    resp = client.get("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice@example.test")
    assert resp.text == EXPECTED


def test_it_takes_the_domain_from_the_host_without_an_address(client, domain):
    resp = client.get("/mail/config-v1.1.xml", HTTP_HOST="autoconfig.example.test")
    assert resp.status_code == 200
    assert "<username>%EMAILADDRESS%</username>" in resp.text
    assert '<emailProvider id="example.test">' in resp.text


def test_it_falls_back_to_starttls_when_implicit_tls_is_off(client, domain, settings):
    settings.MOX_IMAPS_PORT = 0
    settings.MOX_SUBMISSIONS_PORT = 0
    settings.MOX_IMAP_PORT = 1143
    settings.MOX_SUBMISSION_PORT = 1587
    text = client.get("/mail/config-v1.1.xml?emailaddress=alice@example.test").text
    assert "<port>1143</port>\n      <socketType>STARTTLS</socketType>" in text
    assert "<port>1587</port>\n      <socketType>STARTTLS</socketType>" in text


def test_it_refuses_an_unknown_domain(client, domain):
    resp = client.get("/mail/config-v1.1.xml?emailaddress=alice@other.example")
    assert resp.status_code == 400
    assert resp.text == "unknown or missing domain\n"


def test_it_escapes_the_address(client, domain):
    resp = client.get("/mail/config-v1.1.xml", {"emailaddress": "<x>&@example.test"})
    assert "<username>&lt;x&gt;&amp;@example.test</username>" in resp.text
