"""smtpserver.handoff in one process: the dispatcher admits each connection with its
limiters and hands it to the side serving fewer (a tie to the child), the child's
sessions greet or refuse as the verdict says, an ended connection frees its place in the
dispatcher's count, and either side notices when the other goes."""
from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from mailcore.ratelimit import Limiter, WindowLimit
from smtpserver.config import Limiters, ListenerConfig
from smtpserver.handoff import Dispatcher, Receiver
from smtpserver.listener import make_config

pytestmark = pytest.mark.django_db(transaction=True)


def listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


async def greeting(port: int) -> tuple[bytes, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return await asyncio.wait_for(reader.readline(), 10), writer


async def until(check, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def main_and_child(limiters: Limiters | None = None) -> tuple[int, ListenerConfig, Dispatcher, Receiver]:
    """A dispatcher on a new port with one child's receiver, both in this loop: the
    port, the dispatcher's config, the dispatcher and the receiver."""
    sock = listening()
    config = make_config(kind="smtp", tls=None, hostname="mx.example", localserve=True)
    if limiters is not None:
        config.limiters = limiters
    dispatcher = Dispatcher([sock], config)
    dispatcher.start()
    receiver = Receiver(dispatcher.new_child_channel(), make_config(kind="smtp", tls=None, hostname="mx.example",
                                                                    localserve=True))
    receiver.start()
    return sock.getsockname()[1], config, dispatcher, receiver


async def test_connections_are_spread_admitted_and_released() -> None:
    # Three open connections per address, for all processes together.
    port, config, dispatcher, receiver = main_and_child(
        Limiters(open_connections=Limiter([WindowLimit(None, (3, 90, 270))])))
    [child] = dispatcher.children
    try:
        first, w1 = await greeting(port)
        second, w2 = await greeting(port)
        third, w3 = await greeting(port)
        assert [first[:4], second[:4], third[:4]] == [b"220 "] * 3
        # A tie goes to the child: child, here, child.
        assert (child.handed, dispatcher.local) == (2, 1)
        assert child.load == 2 and dispatcher.local_open == 1
        # The fourth from the same address is refused, by the session it was handed to.
        refused, w4 = await greeting(port)
        assert refused.startswith(b"421 4.7.0 too many open connections")
        w4.close()
        # A connection the child served ends: the dispatcher hears of it and admits again.
        w1.close()
        await until(lambda: child.load == 1)
        again, w5 = await greeting(port)
        assert again[:4] == b"220 "
        for w in (w2, w3, w5):
            w.close()
        await until(lambda: child.load == 0 and dispatcher.local_open == 0)

        # The child goes: the dispatcher releases what it served and serves alone.
        held, w6 = await greeting(port)
        assert child.load == 1
        asyncio.get_running_loop().remove_reader(receiver.sock.fileno())
        receiver.sock.close()  # as when its process dies
        await until(lambda: not dispatcher.children)
        # Its connection's place is free again: three may be open at once.
        assert config.limiters.open_connections.can_add("127.0.0.1", 3)
        assert not config.limiters.open_connections.can_add("127.0.0.1", 4)
        alone, w7 = await greeting(port)
        # Served here: the refused fourth and this one besides the third.
        assert alone[:4] == b"220 " and dispatcher.local == 3
        w6.close()
        w7.close()
    finally:
        dispatcher.close()
    assert dispatcher.children == []


async def test_connections_reset_at_once_give_their_places_back() -> None:
    port, config, dispatcher, _ = main_and_child()
    [child] = dispatcher.children
    try:
        def reset_many() -> None:
            for _ in range(40):  # more than the 30 open connections an address may have
                client = socket.create_connection(("127.0.0.1", port), timeout=10)
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()  # a reset, before or while its session starts

        await asyncio.to_thread(reset_many)
        await until(lambda: child.handed + dispatcher.local == 40)
        await until(lambda: child.load == 0 and dispatcher.local_open == 0)
        assert config.limiters.open_connections.can_add("127.0.0.1", 30)
        text, writer = await greeting(port)
        assert text[:4] == b"220 "
        writer.close()
    finally:
        dispatcher.close()


async def test_the_child_stops_when_the_main_process_goes() -> None:
    sock = listening()
    config = make_config(kind="smtp", tls=None, hostname="mx.example", localserve=True)
    dispatcher = Dispatcher([sock], config)
    dispatcher.start()
    receiver = Receiver(dispatcher.new_child_channel(), config)
    receiver.start()
    dispatcher.close()
    await asyncio.wait_for(receiver.lost.wait(), 10)
