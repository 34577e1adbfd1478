"""A minimal SOCKS5 proxy (RFC 1928, no authentication, CONNECT only) for tests."""
from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct


class Socks5Proxy:
    def __init__(self) -> None:
        self.targets: list[tuple[str, int]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            ver, n = await reader.readexactly(2)
            await reader.readexactly(n)
            writer.write(b"\x05\x00")
            ver, cmd, _, atyp = await reader.readexactly(4)
            if atyp == 1:
                host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
            elif atyp == 4:
                host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
            else:
                (ln,) = await reader.readexactly(1)
                host = (await reader.readexactly(ln)).decode()
            (port,) = struct.unpack("!H", await reader.readexactly(2))
            self.targets.append((host, port))
            r2, w2 = await asyncio.open_connection(host, port)
            writer.write(b"\x05\x00\x00\x01" + socket.inet_aton("0.0.0.0") + b"\x00\x00")
            await asyncio.gather(self._pipe(reader, w2), self._pipe(r2, writer))
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            writer.close()

    @staticmethod
    async def _pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except OSError:
            pass
        finally:
            w.close()
