"""Routes and transports pages: list, add, edit, delete."""
from __future__ import annotations

from mailqueue.models import Route, Transport


def _transport(**kw: object) -> Transport:
    fields = {"name": "relay", "kind": "submission", "host": "smtp.relay.example", "port": 587}
    fields.update(kw)
    return Transport.objects.create(**fields)


def test_it_adds_a_transport(admin_client, db):
    resp = admin_client.post(
        "/admin/transports/add/",
        {
            "name": "relay", "kind": "submission", "host": "smtp.relay.example", "port": "587",
            "auth_username": "me", "auth_password": "secret", "auth_mechanisms": "scram-sha-256, plain",
            "verify_tls": "on",
        },
    )
    assert resp.status_code == 302
    assert resp["Location"] == "/admin/transports/"
    t = Transport.objects.get()
    assert (t.name, t.kind, t.host, t.port, t.auth_username, t.auth_password, t.auth_mechanisms, t.verify_tls) == (
        "relay", "submission", "smtp.relay.example", 587, "me", "secret", ["SCRAM-SHA-256", "PLAIN"], True,
    )
    page = admin_client.get("/admin/transports/")
    assert f'<a href="/admin/transports/{t.pk}/">relay</a>' in page.text
    assert "smtp.relay.example:587" in page.text
    assert "secret" not in admin_client.get(f"/admin/transports/{t.pk}/").text


def test_editing_keeps_the_password_when_left_empty(admin_client, db):
    t = _transport(auth_username="me", auth_password="secret")
    resp = admin_client.post(
        f"/admin/transports/{t.pk}/",
        {"name": "relay", "kind": "submissions", "host": "smtp2.relay.example", "port": "465", "auth_username": "me", "auth_password": ""},
    )
    assert resp.status_code == 302
    t.refresh_from_db()
    assert (t.kind, t.host, t.port, t.auth_password) == ("submissions", "smtp2.relay.example", 465, "secret")


def test_it_reports_transport_configuration_errors(admin_client, db):
    resp = admin_client.post("/admin/transports/add/", {"name": "bad", "kind": "smtp", "host": "", "auth_mechanisms": "NTLM"})
    assert resp.status_code == 400
    assert "a relay transport needs a host" in resp.text
    assert "unknown mechanism(s): NTLM" in resp.text
    assert Transport.objects.count() == 0


def test_a_transport_in_use_is_not_deleted(admin_client, db):
    t = _transport()
    Route.objects.create(transport=t)
    resp = admin_client.post(f"/admin/transports/{t.pk}/delete/")
    assert resp.status_code == 302
    assert Transport.objects.filter(pk=t.pk).exists()
    page = admin_client.get("/admin/transports/")
    assert "Cannot delete: transport relay is used by 1 route: change or delete it first." in page.text
    Route.objects.all().delete()
    admin_client.post(f"/admin/transports/{t.pk}/delete/")
    assert not Transport.objects.exists()


def test_it_adds_edits_and_deletes_a_route(admin_client, alice):
    t = _transport()
    resp = admin_client.post(
        "/admin/routes/add/",
        {"order": "1", "account": "", "domain": str(alice.domain_id), "from_domains": "", "to_domains": "gmail.com, .example.net", "minimum_attempts": "3", "transport": str(t.pk)},
    )
    assert resp.status_code == 302
    r = Route.objects.get()
    assert (r.order, r.account_id, r.domain_id, r.from_domains, r.to_domains, r.minimum_attempts, r.transport_id) == (
        1, None, alice.domain_id, [], ["gmail.com", ".example.net"], 3, t.pk,
    )
    page = admin_client.get("/admin/routes/")
    assert "<td>domain example.test</td>" in page.text
    assert "<td>any</td><td>gmail.com, .example.net</td><td>3</td>" in page.text
    edit = admin_client.get(f"/admin/routes/{r.pk}/")
    assert 'value="gmail.com, .example.net"' in edit.text
    admin_client.post(
        f"/admin/routes/{r.pk}/",
        {"order": "2", "account": str(alice.pk), "domain": "", "from_domains": "", "to_domains": "", "minimum_attempts": "0", "transport": str(t.pk)},
    )
    r.refresh_from_db()
    assert (r.order, r.account_id, r.domain_id, r.to_domains) == (2, alice.pk, None, [])
    admin_client.post(f"/admin/routes/{r.pk}/delete/")
    assert not Route.objects.exists()


def test_a_route_is_for_an_account_or_a_domain_not_both(admin_client, alice):
    t = _transport()
    resp = admin_client.post(
        "/admin/routes/add/",
        {"order": "0", "account": str(alice.pk), "domain": str(alice.domain_id), "minimum_attempts": "0", "transport": str(t.pk)},
    )
    assert resp.status_code == 400
    assert "A route is for an account or a domain or global, not both." in resp.text


def test_routes_are_listed_in_evaluation_order(admin_client, alice):
    t = _transport()
    g = Route.objects.create(transport=t, order=0)
    d = Route.objects.create(transport=t, order=5, domain=alice.domain)
    a = Route.objects.create(transport=t, order=9, account=alice)
    page = admin_client.get("/admin/routes/").text
    assert page.index(f'id="route-{a.pk}"') < page.index(f'id="route-{d.pk}"') < page.index(f'id="route-{g.pk}"')


def test_without_transports_the_routes_page_asks_for_one(admin_client, db):
    page = admin_client.get("/admin/routes/")
    assert "No routes: all mail is delivered directly." in page.text
    assert 'Add a <a href="/admin/transports/add/">transport</a> first.' in page.text
