from __future__ import annotations

REQUEST = b"""<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>alice@example.test</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>"""

EXPECTED = """\
<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
      <Protocol>
        <Type>IMAP</Type>
        <Server>mail.example.org</Server>
        <Port>993</Port>
        <LoginName>alice@example.test</LoginName>
        <SSL>on</SSL>
        <Encryption>SSL</Encryption>
        <SPA>off</SPA>
        <AuthRequired>on</AuthRequired>
      </Protocol>
      <Protocol>
        <Type>SMTP</Type>
        <Server>mail.example.org</Server>
        <Port>465</Port>
        <LoginName>alice@example.test</LoginName>
        <SSL>on</SSL>
        <Encryption>SSL</Encryption>
        <SPA>off</SPA>
        <AuthRequired>on</AuthRequired>
      </Protocol>
    </Account>
  </Response>
</Autodiscover>
"""


def _post(client, body: bytes, path: str = "/autodiscover/autodiscover.xml"):  # type: ignore[no-untyped-def]
    return client.post(path, body, content_type="text/xml")


def test_it_answers_outlook(client, domain):
    resp = _post(client, REQUEST)
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/xml; charset=utf-8"
    assert resp.text == EXPECTED


def test_it_answers_outlooks_capitalised_path_without_csrf(domain):
    from django.test import Client

    resp = _post(Client(enforce_csrf_checks=True), REQUEST, "/Autodiscover/Autodiscover.xml")
    assert resp.status_code == 200


def test_it_refuses_get(client, domain):
    assert client.get("/autodiscover/autodiscover.xml").status_code == 405


def test_it_refuses_an_unknown_domain(client, domain):
    resp = _post(client, REQUEST.replace(b"example.test", b"other.example"))
    assert resp.status_code == 400
    assert resp.text == "unknown domain\n"


def test_it_refuses_bad_xml(client, domain):
    assert _post(client, b"<Autodiscover><Request>").status_code == 400
    assert _post(client, b"<Autodiscover/>").status_code == 400


def test_it_refuses_entity_declarations(client, domain):
    body = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "alice@example.test">]><a><EMailAddress>&e;</EMailAddress></a>'
    resp = _post(client, body)
    assert resp.status_code == 400
    assert resp.text == "request must be XML with an EMailAddress element\n"
