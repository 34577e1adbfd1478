"""Serving a directory (mox WebStatic): index.html for directories, optional listings,
try-the-next-handler when a file is missing, GET and HEAD with If-Modified-Since and a
single byte range."""
from __future__ import annotations

import asyncio
import html
import mimetypes
import os
import posixpath
import stat
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

from webserver.config import Static
from webserver.responses import Scope, Send, encode_headers, error, header, respond

CHUNK = 256 * 1024


def local_path(root: str, rel: str) -> str:
    """`rel` (the decoded URL path) below `root`; ".." cannot climb above the root."""
    clean = posixpath.normpath("/" + rel)
    return os.path.join(root, clean.lstrip("/"))


async def serve_static(h: Static, extra: tuple[tuple[str, str], ...], scope: Scope, send: Send) -> bool:
    """True when the request was answered; False to try the next handler."""
    method, path = scope["method"], scope["path"]
    head = method == "HEAD"
    if method not in ("GET", "HEAD"):
        if h.continue_not_found:
            return False
        await error(send, 405, "method not allowed")
        return True
    if h.strip_prefix and not path.startswith(h.strip_prefix):
        if h.continue_not_found:
            return False
        await error(send, 404, "not found", head=head)
        return True
    rel = path[len(h.strip_prefix):] if h.strip_prefix else path
    if "\0" in rel:
        await error(send, 400, "bad request", head=head)
        return True
    fspath = local_path(h.root, rel)
    try:
        st = os.stat(fspath)
    except (FileNotFoundError, NotADirectoryError):
        if h.continue_not_found:
            return False
        await error(send, 404, "not found", head=head)
        return True
    except PermissionError:
        await error(send, 403, "permission denied", head=head)
        return True
    if stat.S_ISDIR(st.st_mode):
        if not path.endswith("/"):
            await respond(send, 307, headers=[("Location", quote(path) + "/")], head=head)
            return True
        index = os.path.join(fspath, "index.html")
        try:
            ist = os.stat(index)
        except FileNotFoundError:
            if not h.list_files:
                if h.continue_not_found:
                    return False
                await error(send, 403, "permission denied", head=head)
                return True
            await _listing(fspath, path, extra, send, head)
            return True
        except PermissionError:
            await error(send, 403, "permission denied", head=head)
            return True
        await _file(index, ist, scope, extra, send, "text/html; charset=utf-8")
        return True
    if path.endswith("/"):
        if h.continue_not_found:
            return False
        await error(send, 404, "not found", head=head)
        return True
    await _file(fspath, st, scope, extra, send, None)
    return True


def _range(value: str, size: int) -> tuple[int, int] | None:
    """A single "bytes=a-b", "bytes=a-" or "bytes=-n" range (RFC 9110 section 14.1.2)
    as (start, end inclusive); None for anything else (then the whole file is sent)."""
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            n = int(last)
            return (max(size - n, 0), size - 1) if n > 0 and size else None
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start > end or start >= size:
        return None
    return start, min(end, size - 1)


async def _file(fspath: str, st: os.stat_result, scope: Scope, extra: tuple[tuple[str, str], ...], send: Send,
                content_type: str | None) -> None:
    head = scope["method"] == "HEAD"
    modified = datetime.fromtimestamp(int(st.st_mtime), timezone.utc)
    since = header(scope, b"if-modified-since")
    if since:
        try:
            if parsedate_to_datetime(since) >= modified:
                await respond(send, 304, headers=[("Last-Modified", format_datetime(modified, usegmt=True))], head=True)
                return
        except (TypeError, ValueError):
            pass
    headers = list(extra)
    if not any(k.lower() == "content-type" for k, _ in headers):
        guessed = content_type or mimetypes.guess_type(fspath)[0] or "application/octet-stream"
        if guessed.startswith("text/") and "charset" not in guessed:
            guessed += "; charset=utf-8"
        headers.append(("Content-Type", guessed))
    headers += [("Last-Modified", format_datetime(modified, usegmt=True)), ("Accept-Ranges", "bytes")]
    size = st.st_size
    status, start, end = 200, 0, size - 1
    wanted = header(scope, b"range")
    if wanted:
        r = _range(wanted, size)
        if r is None and size and wanted.strip().lower().startswith("bytes=") and "," not in wanted:
            await respond(send, 416, headers=[("Content-Range", f"bytes */{size}")], head=head)
            return
        if r is not None:
            status, (start, end) = 206, r
            headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
    length = max(end - start + 1, 0)
    headers.append(("Content-Length", str(length)))
    await send({"type": "http.response.start", "status": status, "headers": encode_headers(headers)})
    if head or length == 0:
        await send({"type": "http.response.body", "body": b""})
        return
    with open(fspath, "rb") as fh:
        fh.seek(start)
        left = length
        while left > 0:
            chunk = await asyncio.to_thread(fh.read, min(CHUNK, left))
            if not chunk:
                break  # the file shrank while being sent
            left -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": left > 0})
    if left > 0:
        await send({"type": "http.response.body", "body": b""})


async def _listing(fspath: str, path: str, extra: tuple[tuple[str, str], ...], send: Send, head: bool) -> None:
    rows = []
    entries = sorted(os.scandir(fspath), key=lambda e: e.name)
    if path != "/":
        rows.append('<tr><td></td><td></td><td><a href="../">../</a></td></tr>')
    for e in entries:
        try:
            est = e.stat()
        except OSError:
            continue
        is_dir = e.is_dir()
        name = e.name + ("/" if is_dir else "")
        size = "" if is_dir else f"{est.st_size / (1024 * 1024):.2f}"
        when = datetime.fromtimestamp(est.st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        rows.append(
            f'<tr><td style="text-align:right" title="{est.st_size} bytes">{size}</td><td>{when}</td>'
            f'<td><a href="{html.escape(quote(name))}">{html.escape(name)}</a></td></tr>'
        )
    if not rows:
        rows.append('<tr><td colspan="3">No files.</td></tr>')
    body = (
        '<!doctype html><html><head><meta charset="utf-8"><title>ls</title></head><body>'
        f"<h1>{html.escape(path)}</h1><table><thead><tr><th>Size in MB</th><th>Modified (UTC)</th><th>Name</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></body></html>"
    ).encode()
    headers = [(k, v) for k, v in extra if k.lower() != "content-type"] + [("Content-Type", "text/html; charset=utf-8")]
    await respond(send, 200, body, headers, head=head)
