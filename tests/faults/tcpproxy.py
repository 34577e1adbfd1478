"""A TCP proxy on loopback that a test can cut (every connection dropped, new ones
closed at once, like a database host gone from the network) and restore."""
from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

from tests.listeners import LoopThread, bound_socket


class TCPProxy:
    def __init__(self, loop_thread: LoopThread, upstream: tuple[str, int]) -> None:
        self.loop_thread = loop_thread
        self.upstream = upstream
        self.cut_off = False
        self.writers: set[asyncio.StreamWriter] = set()
        sock = bound_socket()
        self.port = int(sock.getsockname()[1])
        self.server = loop_thread.run(asyncio.start_server(self._handle, sock=sock))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def cut(self) -> None:
        async def _cut() -> None:
            self.cut_off = True
            for w in list(self.writers):
                # A reset, not a polite close: the peer sees the network go away.
                if (sock := w.get_extra_info("socket")) is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                w.close()
            self.writers.clear()

        self.loop_thread.run(_cut())

    def restore(self) -> None:
        self.cut_off = False

    def close(self) -> None:
        self.cut()

        async def _close() -> None:
            self.server.close()

        self.loop_thread.run(_close())
