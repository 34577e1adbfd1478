from __future__ import annotations

from accounts.actions import create_account
from accounts.models import DKIMKey
from tests.commands.helpers import fails, run


def test_it_passes_a_complete_configuration(alice, settings, tls_files):
    settings.MOX_TLS_CERT = str(tls_files.cert_path)
    settings.MOX_TLS_KEY = str(tls_files.key_path)
    settings.MOX_HOSTNAME = "mail.example.test"
    DKIMKey.objects.create(domain=alice.domain, selector="s1", algorithm="ed25519", sign=True,
                           private_key_pem=_ed25519_pem())
    lines = run("configtest")
    assert lines[0] == "ok: system checks passed"
    assert lines[1] == f"ok: data directory {settings.DATA_DIR} is writable"
    assert lines[2].startswith(f"ok: TLS certificate {tls_files.cert_path} loads, valid until ")
    assert lines[3].startswith("ok: database ") and lines[3].endswith(" is reachable and migrated")
    assert lines[4:] == ["ok: 1 accounts have credentials and addresses", "configuration ok"]


def test_it_checks_redis_when_configured(alice, settings):
    from tests.fixtures_dns import free_udp_port

    settings.MOX_HOSTNAME = "mail.example.test"
    settings.MOX_REDIS_URL = "redis://127.0.0.1:6379/0"
    lines = run("configtest")
    assert "ok: Redis at redis://127.0.0.1:6379/0 answers" in lines
    closed = f"redis://127.0.0.1:{free_udp_port()}/0"
    settings.MOX_REDIS_URL = closed
    out: list[str] = []
    fails("configtest", stdout_lines=out)
    assert [line for line in out if line.startswith("error: ")][0].startswith(f"error: Redis at {closed} cannot be reached: ")


def test_it_warns_about_a_localhost_hostname(alice, settings):
    settings.MOX_HOSTNAME = "localhost"
    settings.MOX_LOCALSERVE = False
    lines = run("configtest")
    assert "warning: MOX_HOSTNAME=localhost is not a public host name: other mail servers greet and reject it" in lines


def test_it_names_every_error_and_exits_non_zero(domain, settings, tmp_path):
    create_account("nopass", "nopass@example.test")
    settings.MOX_TLS_CERT = str(tmp_path / "cert.pem")
    settings.MOX_TLS_KEY = str(tmp_path / "key.pem")
    (tmp_path / "cert.pem").write_text("not a certificate")
    (tmp_path / "key.pem").write_text("not a key")
    settings.MOX_POSTMASTER_ACCOUNT = "ghost"
    out: list[str] = []
    assert fails("configtest", stdout_lines=out) == "configuration has 3 errors"
    errors = [line for line in out if line.startswith("error: ")]
    assert errors[0].startswith(f"error: TLS certificate {tmp_path / 'cert.pem'} and key {tmp_path / 'key.pem'} do not load: ")
    assert errors[1:] == [
        "error: account nopass has no password: manage.py setaccountpassword nopass",
        "error: MOX_POSTMASTER_ACCOUNT=ghost names no account",
    ]
    assert "warning: domain example.test has no DKIM key to sign with: its mail may be rejected" in out


def test_it_reports_an_unwritable_data_directory(alice, settings, tmp_path):
    (tmp_path / "file").write_text("x")
    settings.DATA_DIR = tmp_path / "file" / "data"
    out: list[str] = []
    fails("configtest", stdout_lines=out)
    errors = [line for line in out if line.startswith("error: ")]
    assert errors == [
        f"error: moxweb.E001: data directory {tmp_path / 'file' / 'data'} cannot be created: Not a directory "
        "(Set MOX_DATA_DIR to a writable directory.)",
        f"error: data directory {tmp_path / 'file' / 'data'} is not writable: Not a directory",
    ]


def _ed25519_pem() -> str:
    from accounts.dkimkeys import generate_private_key_pem

    return generate_private_key_pem("ed25519")


def test_it_accepts_acme_instead_of_certificate_files(alice, settings):
    settings.MOX_ACME_DIRECTORY = "letsencrypt"
    settings.MOX_TLS_CERT = settings.MOX_TLS_KEY = ""
    lines = run("configtest")
    assert "ok: TLS certificates come from ACME (letsencrypt)" in lines
    assert lines[-1] == "configuration ok"
