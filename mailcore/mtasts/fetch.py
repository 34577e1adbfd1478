"""Finding and fetching an MTA-STS policy (RFC 8461 sections 3.1 and 3.3).

The policy host `mta-sts.<domain>` is resolved through our resolver and fetched with
a minimal HTTP/1.1 client over verified TLS: no redirects, 200 only, text/plain,
at most 64 KiB, all within a deadline.
"""
from __future__ import annotations

import asyncio
import ssl

from mailcore.dns import Resolver, lookup_ips
from mailcore.mtasts.policy import Policy, PolicyError, Record, parse_policy, parse_record

MAX_POLICY_SIZE = 64 * 1024  # RFC 8461 section 3.3 suggests 64 KiB


class FetchError(Exception):
    pass


async def lookup_record(resolver: Resolver, domain: str) -> tuple[Record | None, bool]:
    """(record, temporary). RFC 8461 section 3.1: TXT records not starting with
    "v=STSv1" are discarded; anything but exactly one left means no policy."""
    r = await resolver.lookup_txt(f"_mta-sts.{domain}")
    if r.temporary:
        return None, True
    txts = [t.decode("utf-8", "replace") for t in r.records]
    txts = [t for t in txts if t.startswith("v=STSv1;") or t == "v=STSv1"]
    if len(txts) != 1:
        return None, False
    try:
        return parse_record(txts[0]), False
    except PolicyError:
        return None, False


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status_line = await reader.readline()
    parts = status_line.decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise FetchError(f"malformed status line {status_line[:100]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = bytearray()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size_line = await reader.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            body += await reader.readexactly(size)
            await reader.readline()
            if len(body) > MAX_POLICY_SIZE:
                raise FetchError("policy too large")
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length > MAX_POLICY_SIZE:
            raise FetchError("policy too large")
        body += await reader.readexactly(length)
    else:
        body += await reader.read(MAX_POLICY_SIZE + 1)
        if len(body) > MAX_POLICY_SIZE:
            raise FetchError("policy too large")
    return status, headers, bytes(body)


async def fetch_policy(
    domain: str,
    resolver: Resolver,
    ssl_context: ssl.SSLContext,
    *,
    port: int = 443,
    timeout: float = 60,
) -> tuple[Policy, str]:
    """The parsed policy and its text, from https://mta-sts.<domain>/.well-known/mta-sts.txt.
    Raises FetchError for every failure (DNS, TLS, HTTP status, type, size, syntax)."""
    host = f"mta-sts.{domain}"
    try:
        async with asyncio.timeout(timeout):
            ips = await lookup_ips(resolver, host)
            if not ips.ok:
                raise FetchError(f"no address for {host} ({ips.status})")
            last: Exception | None = None
            for ip in ips.records:
                try:
                    reader, writer = await asyncio.open_connection(ip, port, ssl=ssl_context, server_hostname=host)
                except (OSError, ssl.SSLError) as e:
                    last = e
                    continue
                try:
                    req = (
                        f"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\n"
                        "User-Agent: moxweb\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
                    )
                    writer.write(req.encode("ascii"))
                    await writer.drain()
                    status, headers, body = await _read_response(reader)
                finally:
                    writer.close()
                    try:
                        await writer.wait_closed()
                    except (OSError, ssl.SSLError):
                        pass
                break
            else:
                raise FetchError(f"connecting to {host}: {last}")
    except TimeoutError as e:
        raise FetchError(f"timeout fetching policy from {host}") from e
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError, ValueError) as e:
        if isinstance(e, FetchError):
            raise
        raise FetchError(f"fetching policy from {host}: {e}") from e
    # RFC 8461 section 3.3: redirects are not followed; only 200 is a policy.
    if status != 200:
        raise FetchError(f"http status {status} from {host}")
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "text/plain":
        raise FetchError(f"content-type {ctype or 'missing'!r} is not text/plain")
    try:
        text = body.decode("utf-8")
        return parse_policy(text), text
    except (UnicodeDecodeError, PolicyError) as e:
        raise FetchError(f"bad policy: {e}") from e
