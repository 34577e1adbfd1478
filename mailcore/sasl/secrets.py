"""Derive the per-mechanism secrets stored at password change (never the password).

SCRAM (RFC 5802 section 3, RFC 7677): salt, iterations, StoredKey, ServerKey.
CRAM-MD5 (RFC 2195): HMAC-MD5 pad states, see md5state.py.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from mailcore.sasl.md5state import cram_md5_states

# mox uses 8192 iterations for SHA-1 and 4096 for SHA-256 (RFC 7677 minimum 4096).
SCRAM_SHA1_ITERATIONS = 8192
SCRAM_SHA256_ITERATIONS = 4096


@dataclass(frozen=True)
class ScramSecret:
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


@dataclass(frozen=True)
class PasswordSecrets:
    scram_sha1: ScramSecret
    scram_sha256: ScramSecret
    cram_md5_ipad: bytes
    cram_md5_opad: bytes


def scram_secret(hash_name: str, password: str, iterations: int, salt: bytes | None = None) -> ScramSecret:
    # RFC 5802 section 3: SaltedPassword := Hi(Normalize(password), salt, i). We apply
    # SASLprep's common case (NFKC of the UTF-8 string) via scramp when verifying.
    from scramp.core import saslprep

    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac(hash_name, saslprep(password).encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hash_name).digest()
    stored_key = hashlib.new(hash_name, client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hash_name).digest()
    return ScramSecret(salt, iterations, stored_key, server_key)


def derive_secrets(password: str) -> PasswordSecrets:
    ipad, opad = cram_md5_states(password.encode("utf-8"))
    return PasswordSecrets(
        scram_sha1=scram_secret("sha1", password, SCRAM_SHA1_ITERATIONS),
        scram_sha256=scram_secret("sha256", password, SCRAM_SHA256_ITERATIONS),
        cram_md5_ipad=ipad,
        cram_md5_opad=opad,
    )
