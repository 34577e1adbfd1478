"""localserve: a local test server configured as `mox localserve` is.

Ports are the usual ones + 1000, the account mox@localhost has password "moxmoxmox",
the admin password is "moxadmin", a self-signed certificate is made, every recipient is
accepted into that account, and submitted mail is delivered back locally.
"""
from __future__ import annotations

import os
from pathlib import Path

LOCALSERVE_ACCOUNT = "mox"
LOCALSERVE_ADDRESS = "mox@localhost"
LOCALSERVE_PASSWORD = "moxmoxmox"
ADMIN_PASSWORD = "moxadmin"

# Standard ports; localserve adds its offset (1000 by default).
STANDARD_PORTS = {
    "MOX_SMTP_PORT": 25,
    "MOX_SUBMISSION_PORT": 587,
    "MOX_SUBMISSIONS_PORT": 465,
    "MOX_IMAP_PORT": 143,
    "MOX_IMAPS_PORT": 993,
    "MOX_HTTP_PORT": 80,
    "MOX_HTTPS_PORT": 443,
    "MOX_METRICS_PORT": 81,
}


def localserve_environment(data_dir: Path, ip: str, offset: int) -> dict[str, str]:
    env = {
        "MOX_DATA_DIR": str(data_dir),
        "MOX_LOCALSERVE": "1",
        "MOX_LOCALSERVE_ACCOUNT": LOCALSERVE_ACCOUNT,
        "MOX_POSTMASTER_ACCOUNT": LOCALSERVE_ACCOUNT,
        "MOX_HOSTNAME": "localhost",
        "MOX_LISTEN_IPS": ip,
        "MOX_TLS_CERT": "",
        "MOX_TLS_KEY": "",
    }
    # A DATABASE_URL from the environment would point localserve at a real installation.
    env["DATABASE_URL"] = os.environ.get("MOX_LOCALSERVE_DATABASE_URL", "")
    for name, port in STANDARD_PORTS.items():
        env[name] = str(port + offset)
    return env


def setup_localserve() -> None:
    """Create (or reset) the localhost domain, the mox account and the admin user."""
    from accounts.actions import create_account, create_domain, find_domain, set_password
    from accounts.models import Account
    from mailstore.actions import ensure_store
    from webadmin.actions import set_admin_password

    if find_domain("localhost") is None:
        create_domain("localhost")
    account = Account.objects.filter(name=LOCALSERVE_ACCOUNT).first()
    if account is None:
        account = create_account(LOCALSERVE_ACCOUNT, LOCALSERVE_ADDRESS, LOCALSERVE_PASSWORD)
    else:
        set_password(account, LOCALSERVE_PASSWORD)
        ensure_store(account)
    set_admin_password(ADMIN_PASSWORD)


def banner(data_dir: Path, ip: str, ports: dict[str, int]) -> str:
    host = "localhost" if ip in ("127.0.0.1", "::1", "localhost") else ip
    p = ports
    return "\n".join(
        [
            f"moxweb localserve: serving on {ip}, data in {data_dir}",
            f"  smtp        {host}:{p['MOX_SMTP_PORT']}  (no TLS needed; every recipient is accepted into {LOCALSERVE_ADDRESS})",
            f"  submission  {host}:{p['MOX_SUBMISSION_PORT']} (STARTTLS optional), {host}:{p['MOX_SUBMISSIONS_PORT']} (TLS)",
            f"  imap        {host}:{p['MOX_IMAP_PORT']} (STARTTLS optional), {host}:{p['MOX_IMAPS_PORT']} (TLS)",
            f"  login       {LOCALSERVE_ADDRESS} with password {LOCALSERVE_PASSWORD} (PLAIN/LOGIN allowed without TLS)",
            f"  account web http://{host}:{p['MOX_HTTP_PORT']}/account/",
            f"  admin web   http://{host}:{p['MOX_HTTP_PORT']}/admin/ with password {ADMIN_PASSWORD}"
            f" (also https://{host}:{p['MOX_HTTPS_PORT']}/, self-signed)",
            f"  metrics     http://{host}:{p['MOX_METRICS_PORT']}/metrics",
            "  errors      recipient localparts ending in temperror, permerror, a 4xx/5xx code or timeout fail"
            " at DATA (at MAIL/RCPT when the localpart starts with mailfrom/rcptto)",
            "  submitted mail is delivered back into the account; stop with ctrl-c",
        ]
    )
