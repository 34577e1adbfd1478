"""Subject pass tokens (mox subjectpass, mox-v0.0.5 section 1.1.11 steps 9 and 13).

A moderately spammy message from a sender without reputation is refused permanently
with a token; the sender may send again with the token in the Subject, and gets
through during the account's period. The token binds the From address and the time,
signed with a per-account secret:

    "(pass:" base64url(version/time (4 bytes) || HMAC-SHA256(key, time || address)[:12]) ")"

The top 4 bits of the first byte are the version (0); the time is unix seconds with
the lowest 8 bits dropped. The same layout as mox, so tokens read alike.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time

EXPLANATION = ("Your message resembles spam. If your email is legitimate, please send it again with the "
               "following added to the email message subject: ")

_TOKEN = re.compile(r"\(pass:([^)]*)\)")


def generate(address: str, key: bytes, now: float | None = None) -> str:
    t = int(time.time() if now is None else now)
    head = bytes([(t >> 32) & 0x0F, (t >> 24) & 0xFF, (t >> 16) & 0xFF, (t >> 8) & 0xFF])
    mac = hmac.new(key, head + address.encode("utf-8"), hashlib.sha256).digest()[:12]
    return "(pass:" + base64.urlsafe_b64encode(head + mac).decode("ascii").rstrip("=") + ")"


def verify(subject: str, address: str, key: bytes, period: float, now: float | None = None) -> str:
    """"" when the Subject holds a valid, unexpired token for `address`, else why not."""
    m = _TOKEN.search(subject)
    if m is None:
        return "no token in subject"
    token = m.group(1)
    try:
        buf = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return "malformed token"
    if not buf or buf[0] >> 4 != 0:
        return "unknown token version"
    if len(buf) != 16:
        return "bad token length"
    mac = hmac.new(key, buf[:4] + address.encode("utf-8"), hashlib.sha256).digest()[:12]
    if not hmac.compare_digest(mac, buf[4:]):
        return "token verification failed"
    signed = ((buf[0] & 0x0F) << 32) | (buf[1] << 24) | (buf[2] << 16) | (buf[3] << 8)
    if (time.time() if now is None else now) - signed > period:
        return "token expired"
    return ""
