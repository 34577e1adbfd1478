"""Apple configuration profile (.mobileconfig) that sets up one email address on macOS
and iOS: IMAP and submission servers from clientconfig, no password (the device asks).

Payload keys from Apple's "Mail" payload (com.apple.mail.managed). The profile is not
signed; devices show it as unverified. UUIDs are derived from the address, so a second
download replaces the first profile instead of adding another.
"""
from __future__ import annotations

import plistlib
import uuid

from wellknown.clientconfig import imap_server, submission_server

NAMESPACE = uuid.UUID("6f9c3a56-2d0e-4b8e-9a55-8a1c2f0d7e11")


def profile(address: str, full_name: str, hostname_id: str) -> bytes:
    imap, smtp = imap_server(), submission_server()
    ident = ".".join(reversed(hostname_id.split("."))) + ".email." + address
    mail = {
        "EmailAccountDescription": address,
        "EmailAccountName": full_name,
        "EmailAccountType": "EmailTypeIMAP",
        "EmailAddress": address,
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "IncomingMailServerHostName": imap.hostname,
        "IncomingMailServerPortNumber": imap.port,
        "IncomingMailServerUseSSL": True,
        "IncomingMailServerUsername": address,
        "OutgoingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingMailServerHostName": smtp.hostname,
        "OutgoingMailServerPortNumber": smtp.port,
        "OutgoingMailServerUseSSL": True,
        "OutgoingMailServerUsername": address,
        "OutgoingPasswordSameAsIncomingPassword": True,
        "PayloadDescription": f"Email account {address}",
        "PayloadDisplayName": address,
        "PayloadIdentifier": ident + ".mail",
        "PayloadType": "com.apple.mail.managed",
        "PayloadUUID": str(uuid.uuid5(NAMESPACE, "mail:" + address)).upper(),
        "PayloadVersion": 1,
    }
    top = {
        "PayloadContent": [mail],
        "PayloadDescription": f"Sets up email account {address}.",
        "PayloadDisplayName": f"Email {address}",
        "PayloadIdentifier": ident,
        "PayloadRemovalDisallowed": False,
        "PayloadType": "Configuration",
        "PayloadUUID": str(uuid.uuid5(NAMESPACE, "profile:" + address)).upper(),
        "PayloadVersion": 1,
    }
    return plistlib.dumps(top, fmt=plistlib.FMT_XML, sort_keys=True)
