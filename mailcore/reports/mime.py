"""Finding and decoding a report attachment in a message (RFC 2045 section 6 content
transfer encodings), and decompressing it within a size limit.

Reports arrive as a leaf part somewhere in the MIME tree (RFC 7489 section 7.2.1.1,
RFC 8460 section 5.3); we walk the tree that `mailcore.message.structure` computes.
"""
from __future__ import annotations

import base64
import binascii
import gzip
import io
import quopri
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mailcore.message.structure import parse_structure
from mailcore.reports.errors import ParseError

MAX_REPORT_SIZE = 20 * 1024 * 1024  # mox's limit for a decompressed report


@dataclass(frozen=True)
class Part:
    media_type: str  # lower-case "type/subtype"
    filename: str
    raw: bytes  # as in the message
    encoding: str | None  # Content-Transfer-Encoding, upper-case

    def decoded(self) -> bytes:
        return decode_transfer(self.raw, self.encoding)


def _leaves(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "parts" in node:
        for child in node["parts"]:
            yield from _leaves(child)
    elif "msg" in node:
        yield from _leaves(node["msg"])
    else:
        yield node


def _param(params: list[list[str]], name: str) -> str:
    return next((v for k, v in params if k == name), "")


def decode_transfer(body: bytes, encoding: str | None) -> bytes:
    """Undo a Content-Transfer-Encoding (RFC 2045 section 6)."""
    if encoding == "BASE64":
        try:
            return base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError) as e:
            raise ParseError(f"invalid base64 in report part: {e}") from e
    if encoding == "QUOTED-PRINTABLE":
        return quopri.decodestring(body)
    return body


def parts(message: bytes) -> Iterator[Part]:
    """Every leaf part of a message; `decoded()` undoes the transfer encoding."""
    root = parse_structure(message)
    for leaf in _leaves(root):
        media = f"{leaf['t']}/{leaf['s']}".lower()
        name = _param(leaf["p"], "NAME")
        if not name and leaf.get("disp"):
            name = _param(leaf["disp"][1], "FILENAME")
        start, end = leaf["b"]
        yield Part(media, name, message[start:end], leaf.get("enc"))


def gunzip(data: bytes, limit: int = MAX_REPORT_SIZE) -> bytes:
    """Decompress one gzip stream, refusing output beyond `limit` (a gzip bomb)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(limit + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise ParseError(f"bad gzip data: {e}") from e
    if len(out) > limit:
        raise ParseError(f"decompressed report larger than {limit} bytes")
    return out


def unzip_single(data: bytes, limit: int = MAX_REPORT_SIZE) -> bytes:
    """The one file in a zip archive (RFC 7489 section 7.2.1.1 allows zip), within `limit`."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = [i for i in z.infolist() if not i.is_dir()]
            if len(infos) != 1:
                raise ParseError(f"zip archive has {len(infos)} files, expected exactly one")
            with z.open(infos[0]) as f:
                out = f.read(limit + 1)
    except ParseError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error, NotImplementedError,
            ValueError, RuntimeError, KeyError) as e:
        raise ParseError(f"bad zip data: {e}") from e
    if len(out) > limit:
        raise ParseError(f"decompressed report larger than {limit} bytes")
    return out


def sniff_compressed(data: bytes) -> str:
    """"gzip", "zip" or "" from the leading magic bytes."""
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:4] == b"PK\x03\x04":
        return "zip"
    return ""
