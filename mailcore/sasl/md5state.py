"""A small pure-Python MD5 (RFC 1321) whose internal state can be saved and resumed.

CRAM-MD5 (RFC 2195) is HMAC-MD5 keyed with the password. Storing the MD5 states after
absorbing the inner and outer pads (as Dovecot and mox do) lets us verify responses
without keeping the password; hashlib cannot export or import a state, hence this file.
"""
from __future__ import annotations

import math
import struct

_S = [7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4
_K = [int(abs(math.sin(i + 1)) * 2**32) & 0xFFFFFFFF for i in range(64)]
INITIAL_STATE = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476)


def _rotl(x: int, c: int) -> int:
    return ((x << c) | (x >> (32 - c))) & 0xFFFFFFFF


def compress(state: tuple[int, int, int, int], block: bytes) -> tuple[int, int, int, int]:
    """RFC 1321 section 3.4: process one 64-byte block."""
    assert len(block) == 64
    m = struct.unpack("<16I", block)
    a, b, c, d = state
    for i in range(64):
        if i < 16:
            f = (b & c) | (~b & d)
            g = i
        elif i < 32:
            f = (d & b) | (~d & c)
            g = (5 * i + 1) % 16
        elif i < 48:
            f = b ^ c ^ d
            g = (3 * i + 5) % 16
        else:
            f = c ^ (b | ~d)
            g = (7 * i) % 16
        f = (f + a + _K[i] + m[g]) & 0xFFFFFFFF
        a, d, c = d, c, b
        b = (b + _rotl(f, _S[i])) & 0xFFFFFFFF
    return (
        (state[0] + a) & 0xFFFFFFFF,
        (state[1] + b) & 0xFFFFFFFF,
        (state[2] + c) & 0xFFFFFFFF,
        (state[3] + d) & 0xFFFFFFFF,
    )


def pack_state(state: tuple[int, int, int, int]) -> bytes:
    return struct.pack("<4I", *state)


def unpack_state(data: bytes) -> tuple[int, int, int, int]:
    a, b, c, d = struct.unpack("<4I", data)
    return (a, b, c, d)


def finish(state: tuple[int, int, int, int], data: bytes, already: int) -> bytes:
    """Hash `data` on top of a state that has absorbed `already` bytes (a multiple of 64)."""
    total = already + len(data)
    msg = data + b"\x80" + b"\x00" * ((55 - total) % 64) + struct.pack("<Q", (total * 8) & 0xFFFFFFFFFFFFFFFF)
    for i in range(0, len(msg), 64):
        state = compress(state, msg[i : i + 64])
    return pack_state(state)


def cram_md5_states(password: bytes) -> tuple[bytes, bytes]:
    """The MD5 states after the HMAC inner (ipad) and outer (opad) key blocks (RFC 2104)."""
    import hashlib

    key = hashlib.md5(password).digest() if len(password) > 64 else password
    key = key.ljust(64, b"\x00")
    ipad = bytes(k ^ 0x36 for k in key)
    opad = bytes(k ^ 0x5C for k in key)
    return pack_state(compress(INITIAL_STATE, ipad)), pack_state(compress(INITIAL_STATE, opad))


def cram_md5_digest(ipad_state: bytes, opad_state: bytes, challenge: bytes) -> str:
    """HMAC-MD5(password, challenge) in hex, from the stored states alone."""
    inner = finish(unpack_state(ipad_state), challenge, 64)
    return finish(unpack_state(opad_state), inner, 64).hex()
