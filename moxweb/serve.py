"""The mail process: SMTP, submission, IMAP and HTTP(S) listeners in one asyncio loop,
plus the supervised django-q2 cluster (the delivery worker).

Used by `manage.py runmail` and `manage.py localserve`. Sockets are bound before
anything starts so a port in use is reported by name and the process exits non-zero.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from smtpserver.handoff import Dispatcher

log = logging.getLogger("moxweb.serve")


class ListenError(Exception):
    """A listener could not bind; the message names the address and port."""


@dataclass(frozen=True)
class ListenerSpec:
    name: str  # smtp, submission, submissions, imap, imaps, http, https, metrics
    port: int


@dataclass
class Bound:
    spec: ListenerSpec
    sockets: list[socket.socket] = field(default_factory=list)


def listener_specs() -> list[ListenerSpec]:
    specs = [
        ListenerSpec("smtp", settings.MOX_SMTP_PORT),
        ListenerSpec("submission", settings.MOX_SUBMISSION_PORT),
        ListenerSpec("submissions", settings.MOX_SUBMISSIONS_PORT),
        ListenerSpec("imap", settings.MOX_IMAP_PORT),
        ListenerSpec("imaps", settings.MOX_IMAPS_PORT),
        ListenerSpec("http", settings.MOX_HTTP_PORT),
        ListenerSpec("https", settings.MOX_HTTPS_PORT),
        ListenerSpec("metrics", settings.MOX_METRICS_PORT),
    ]
    return [s for s in specs if s.port]


def bind_all(specs: list[ListenerSpec], ips: list[str]) -> list[Bound]:
    """Bind every listener on every IP, or raise ListenError naming the first failure."""
    bound: list[Bound] = []
    try:
        for spec in specs:
            b = Bound(spec)
            bound.append(b)
            for ip in ips:
                family = socket.AF_INET6 if ":" in ip else socket.AF_INET
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    sock.bind((ip, spec.port))
                    sock.listen(512)
                except OSError as exc:
                    sock.close()
                    where = f"[{ip}]:{spec.port}" if ":" in ip else f"{ip}:{spec.port}"
                    raise ListenError(f"cannot listen on {where} ({spec.name}): {exc.strerror}") from exc
                sock.setblocking(False)
                b.sockets.append(sock)
    except ListenError:
        for b in bound:
            for s in b.sockets:
                s.close()
        raise
    return bound


def tls_context() -> ssl.SSLContext | None:
    """The one SNI-aware context of every TLS listener (autotls): ACME certificates by
    server name, else MOX_TLS_CERT/MOX_TLS_KEY, else localserve's self-signed one."""
    from autotls.tls import configured, server_context

    return server_context() if configured() else None


# Certificate files configured by hand for one group of listeners, instead of the shared
# SNI context: (setting prefix, listener names).
LISTENER_TLS_SETTINGS = (
    ("MOX_SMTP_TLS", ("smtp", "submission", "submissions")),
    ("MOX_IMAP_TLS", ("imap", "imaps")),
    ("MOX_HTTPS_TLS", ("https",)),
)


def listener_tls(name: str, shared: ssl.SSLContext | None) -> ssl.SSLContext | None:
    """The context for one listener: its own certificate files when configured, else the
    shared SNI-aware one."""
    from autotls.tls import server_context

    for prefix, names in LISTENER_TLS_SETTINGS:
        cert, key = getattr(settings, f"{prefix}_CERT", ""), getattr(settings, f"{prefix}_KEY", "")
        if name in names and cert and key:
            return server_context(cert, key)
    return shared


NO_TLS = "needs a TLS certificate: set MOX_TLS_CERT/MOX_TLS_KEY or MOX_ACME_DIRECTORY"


class _EmbeddedUvicorn:
    """uvicorn's Server without its own signal handling: we own SIGTERM/SIGINT."""

    def __init__(self, app: object, sockets: list[socket.socket], ssl_ctx: ssl.SSLContext | None) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        # wsproto: WebSocket upgrades reach the web server's forward handlers (webserver/wsforward.py).
        config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, log_config=None,  # type: ignore[arg-type]
                                ws="wsproto")
        config.load()
        config.ssl = ssl_ctx
        self.server = Server(config)
        self.sockets = sockets
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=self.sockets))

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.task, 10)


def _die_with_parent() -> None:
    """In the worker child: get SIGTERM (to its main PID only) if runmail dies, even by kill -9."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class ChildSupervisor:
    """Runs a `manage.py` command as a child and restarts it if it dies: the delivery
    worker (`qcluster`), and the further SMTP processes (`smtpworker`).

    django-q2 deadlocks when SIGTERM reaches its whole process group (libraries.md §1),
    so each child gets its own session and only its main PID is signalled; the group is
    killed after a grace period.
    """

    def __init__(self, args: list[str], name: str,
                 channel: Callable[[], socket.socket] | None = None) -> None:
        self.args = args
        self.name = name
        # For each start, a new socket to pass to the child (its number follows
        # `--handoff-fd`): the SMTP processes' channel to the main one.
        self.channel = channel
        self.proc: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        manage = Path(settings.BASE_DIR) / "manage.py"
        passed = self.channel() if self.channel is not None else None
        extra = ["--handoff-fd", str(passed.fileno())] if passed is not None else []
        try:
            return subprocess.Popen(
                [sys.executable, str(manage), *self.args, *extra],
                start_new_session=True,
                env=os.environ.copy(),
                preexec_fn=_die_with_parent,
                pass_fds=(passed.fileno(),) if passed is not None else (),
            )
        finally:
            if passed is not None:
                passed.close()  # the child has it

    def start(self) -> None:
        self.proc = self._spawn()
        log.info("child process started", extra={"child": self.name, "pid": self.proc.pid})
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        delay = 1.0
        while not self._stopping:
            await asyncio.sleep(1)
            if self.proc is not None and self.proc.poll() is not None and not self._stopping:
                log.error("child process exited, restarting", extra={"child": self.name, "code": self.proc.returncode})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)
                self.proc = self._spawn()

    async def stop(self, grace: float = 10.0) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        for _ in range(int(grace * 10)):
            if proc.poll() is not None:
                return
            await asyncio.sleep(0.1)
        log.warning("child process did not stop in time, killing it", extra={"child": self.name, "pid": proc.pid})
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def smtp_workers(dispatcher: Dispatcher | None) -> list[ChildSupervisor]:
    """The processes beside this one that serve port 25 (MOX_SMTP_PROCESSES in all): the
    dispatcher hands them connections (smtpserver/handoff.py)."""
    if dispatcher is None:
        return []
    return [ChildSupervisor(["smtpworker"], "smtp process", channel=dispatcher.new_child_channel)
            for _ in range(settings.MOX_SMTP_PROCESSES - 1)]


async def _watch_log_levels() -> None:
    """Log levels changed with `manage.py loglevels` or the console apply within a second."""
    from moxweb import loglevels

    loglevels.apply_if_changed(0)
    while True:
        await asyncio.sleep(1)
        loglevels.apply_if_changed(0)


def _freeze_startup_objects() -> None:
    """Leave the objects made while starting (Django's models, URL patterns, settings,
    imported modules: over 100,000) out of the cycle collector's full collections. They
    live as long as the process; each full collection walked them all (in the SMTP
    benchmark, 66 ms, once every few thousand messages, holding the GIL)."""
    gc.collect()
    gc.freeze()


async def serve_smtp_worker(channel: socket.socket) -> None:
    """An SMTP process beside runmail (`manage.py smtpworker`): the port 25 connections
    the main process hands it over `channel` (smtpserver/handoff.py), until SIGTERM or
    SIGINT or the main process ends. The sessions being served when it is told to stop
    end with it, as runmail's own do."""
    from smtpserver.handoff import Receiver
    from smtpserver.listener import make_config

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    config = make_config(kind="smtp", tls=listener_tls("smtp", tls_context()), hostname=settings.MOX_HOSTNAME,
                         localserve=settings.MOX_LOCALSERVE)
    receiver = Receiver(channel, config)
    receiver.start()
    _freeze_startup_objects()
    watch_levels = asyncio.create_task(_watch_log_levels())
    lost = asyncio.create_task(receiver.lost.wait())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait([lost, stopped], return_when=asyncio.FIRST_COMPLETED)
    for task in (watch_levels, lost, stopped):
        task.cancel()
    channel.close()


async def serve(bound: list[Bound], *, banner: str = "") -> None:
    """Serve until SIGTERM or SIGINT, then stop every listener and the worker."""
    from mailstore.files import sweep_temp_files
    from mailstore.notify import hub

    # Temp files of a process that was killed mid-message: nothing was acknowledged
    # for them (the 250 comes after the row's commit), so they only take space.
    swept = await asyncio.to_thread(sweep_temp_files)
    if swept:
        log.info("removed temp files left by processes that no longer run", extra={"files": swept})
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    background: list[asyncio.Task[object]] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    shared_tls = tls_context()
    localserve = settings.MOX_LOCALSERVE
    await hub.start()
    if settings.MOX_ACME_DIRECTORY and not localserve:
        from autotls import manager, startup

        # Once per process start: warn about names whose DNS does not point at us, then
        # obtain missing certificates (the worker's hourly schedule renews them).
        background.append(asyncio.create_task(asyncio.to_thread(startup.check_hostnames_once)))
        background.append(asyncio.create_task(asyncio.to_thread(manager.renew_due)))
    servers: list[asyncio.base_events.Server | Dispatcher] = []
    webs: list[_EmbeddedUvicorn] = []
    dispatcher: Dispatcher | None = None
    for b in bound:
        name = b.spec.name
        tls = listener_tls(name, shared_tls)
        if name == "smtp" and settings.MOX_SMTP_PROCESSES > 1 and b.sockets:
            # Port 25 shared with the smtpworker processes (smtp_workers).
            from smtpserver.handoff import Dispatcher
            from smtpserver.listener import make_config

            dispatcher = Dispatcher(b.sockets, make_config(kind=name, tls=tls, hostname=settings.MOX_HOSTNAME,
                                                           localserve=localserve))
            dispatcher.start()
            servers.append(dispatcher)
            continue
        for sock in b.sockets:
            if name in ("smtp", "submission", "submissions"):
                from smtpserver.listener import serve_smtp

                if name == "submissions" and tls is None:
                    raise ListenError(f"submissions ({sock.getsockname()[1]}) {NO_TLS}")
                servers.append(
                    await serve_smtp(sock, kind=name, tls=tls, hostname=settings.MOX_HOSTNAME, localserve=localserve)
                )
            elif name in ("imap", "imaps"):
                from imapserver.listener import serve_imap

                if name == "imaps" and tls is None:
                    raise ListenError(f"imaps ({sock.getsockname()[1]}) {NO_TLS}")
                servers.append(await serve_imap(sock, implicit_tls=name == "imaps", tls=tls, localserve=localserve))
            elif name in ("http", "https"):
                from moxweb.asgi import application

                if name == "https" and tls is None:
                    raise ListenError(f"https ({sock.getsockname()[1]}) {NO_TLS}")
                web = _EmbeddedUvicorn(application, [sock], tls if name == "https" else None)
                web.start()
                webs.append(web)
            elif name == "metrics":
                from moxweb.metrics import asgi_app

                web = _EmbeddedUvicorn(asgi_app, [sock], None)
                web.start()
                webs.append(web)

    children = smtp_workers(dispatcher)
    if settings.MOX_RUN_WORKER:
        children.append(ChildSupervisor(["qcluster"], "delivery worker"))
    for child in children:
        child.start()

    _freeze_startup_objects()
    if banner:
        print(banner, flush=True)
    log.info("serving", extra={"listeners": ",".join(b.spec.name for b in bound)})
    watch_levels = asyncio.create_task(_watch_log_levels())
    await stop.wait()
    log.info("shutting down")
    watch_levels.cancel()
    for server in servers:
        server.close()
    for web in webs:
        await web.stop()
    await asyncio.gather(*(child.stop() for child in children))
    for server in servers:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)
    hub.stop()
    print("moxweb stopped", flush=True)
