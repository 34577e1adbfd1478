"""A real authoritative DNS server on loopback (dnslib, UDP and TCP on one port) whose
zones each test declares, and fixtures that point our resolver at it.

    def test_x(dns_server):
        dns_server.add_zone('''
            $ORIGIN example.test.
            @       MX  10 mail
            mail    A   192.0.2.10
            _dmarc  TXT "v=DMARC1; p=reject"
        ''')
        dns_server.add("example.test", "TXT", "v=spf1 -all")
        dns_server.servfail("broken.example.test")      # SERVFAIL for every type
        dns_server.drop("slow.example.test")            # never answers: a timeout
        dns_server.authentic("example.test")            # AD bit for it and below
        resolver = dns_server.resolver()                # mailcore.dns.DNSResolver

`dns_settings` sets `settings.MOX_DNS_RESOLVER` to the server and also points
dnspython's default resolver at it (for third-party code that uses it), restoring
both afterwards.

Names without records but with records below them are empty non-terminals and get
NODATA (RFC 8020); other unknown names get NXDOMAIN. CNAMEs are chased inside the
zone as an authoritative server does (RFC 1034 section 4.3.2), stopping at loops.
UDP answers above 1232 bytes are truncated, so dnspython retries over TCP.
"""
from __future__ import annotations

import socket
import textwrap
import threading
from collections.abc import Iterator

import pytest
from dnslib import QTYPE, RCODE, RR, DNSError, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer


def _norm(name: str) -> str:
    name = name.strip().lower()
    if name.endswith("."):
        name = name[:-1]
    return name


def _split_txt(value: str) -> str:
    """A TXT value as zone-file character-strings of at most 255 bytes (RFC 1035 3.3.14)."""
    data = value.encode()
    parts = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    quoted = []
    for p in parts:
        s = p.decode("utf-8", "surrogateescape").replace("\\", "\\\\").replace('"', '\\"')
        quoted.append(f'"{s}"')
    return " ".join(quoted)


class _ZoneResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self) -> None:
        self.records: dict[str, list[RR]] = {}
        self.servfail_names: set[str] = set()
        self.drop_names: dict[str, bool] = {}  # name -> still answer types it has
        self.ad_suffixes: set[str] = set()
        self.queries: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def _exists(self, name: str) -> bool:
        if name in self.records:
            return True
        suffix = "." + name
        return any(n.endswith(suffix) for n in self.records)

    def _rrs(self, name: str) -> list[RR]:
        if name in self.records:
            return self.records[name]
        # RFC 4592: a wildcard matches a name only when the name does not exist.
        if not self._exists(name) and "." in name:
            return self.records.get("*." + name.split(".", 1)[1], [])
        return []

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        qname = _norm(str(request.q.qname))
        qtype = QTYPE[request.q.qtype]
        with self.lock:
            self.queries.append((qname, qtype))
        reply = request.reply()  # sets QR, AA, RD=RA copies
        reply.header.ra = 0
        reply.header.ad = 0  # dnslib copies the query's AD; only authentic() sets it
        if qname in self.drop_names:
            keep = self.drop_names[qname]
            if not any(QTYPE[rr.rtype] == qtype for rr in self.records.get(qname, [])) or not keep:
                raise DNSError("dropped by test")  # the handler sends nothing: a timeout
        if qname in self.servfail_names:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        name = qname
        seen = {name}
        found = False
        for _ in range(16):
            rrs = self._rrs(name)
            found = found or bool(rrs) or self._exists(name)
            matches = [rr for rr in rrs if QTYPE[rr.rtype] == qtype or qtype == "ANY"]
            if matches or qtype == "CNAME":
                for rr in matches:
                    reply.add_answer(self._owner(rr, name))
                break
            cnames = [rr for rr in rrs if rr.rtype == QTYPE.CNAME]
            if not cnames:
                break
            reply.add_answer(self._owner(cnames[0], name))
            target = _norm(str(cnames[0].rdata.label))
            if target in seen or target in self.servfail_names:
                break
            seen.add(target)
            name = target
        if not reply.rr and not found:
            reply.header.rcode = RCODE.NXDOMAIN
        if any(qname == s or qname.endswith("." + s) for s in self.ad_suffixes):
            reply.header.ad = 1
        return reply

    @staticmethod
    def _owner(rr: RR, name: str) -> RR:
        """Wildcard records are answered with the queried name as owner."""
        if str(rr.rname).startswith("*."):
            rr = RR(rname=name + ".", rtype=rr.rtype, rclass=rr.rclass, ttl=rr.ttl, rdata=rr.rdata)
        return rr


class _Handler(DNSHandler):  # type: ignore[misc]
    udplen = 1232

    def get_reply(self, data: bytes) -> bytes:
        request = DNSRecord.parse(data)
        reply = self.server.resolver.resolve(request, self)
        rdata: bytes = reply.pack()
        if self.protocol == "udp" and len(rdata) > self.udplen:
            # RFC 1035 section 4.2.1: TC set; the question stays (dnslib's truncate()
            # drops it, which dnspython rightly refuses).
            short = request.reply()
            short.header.tc = 1
            short.header.ad = 0
            rdata = short.pack()
        return rdata


class DNSTestServer:
    def __init__(self) -> None:
        self.zone = _ZoneResolver()
        logger = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send", prefix=False)
        # UDP and TCP on the same port; retry if the TCP side of the port is taken.
        for _ in range(20):
            udp = DNSServer(self.zone, address="127.0.0.1", port=0, logger=logger, handler=_Handler)
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(self.zone, address="127.0.0.1", port=port, tcp=True, logger=logger, handler=_Handler)
            except OSError:
                udp.server.server_close()
                continue
            break
        else:  # pragma: no cover
            raise RuntimeError("no free port for the test DNS server")
        self._servers = [udp, tcp]
        self.host = "127.0.0.1"
        self.port = port
        for s in self._servers:
            t = threading.Thread(target=s.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
            t.start()

    @property
    def address(self) -> str:
        """ "127.0.0.1:port", the form MOX_DNS_RESOLVER takes."""
        return f"{self.host}:{self.port}"

    @property
    def queries(self) -> list[tuple[str, str]]:
        return list(self.zone.queries)

    def add_zone(self, text: str, origin: str = "") -> None:
        """Records in zone-file syntax ($ORIGIN and $TTL understood)."""
        text = textwrap.dedent(text)
        if not origin and "$TTL" not in text:
            text = "$TTL 300\n" + text
        for rr in RR.fromZone(text, origin=origin, ttl=300):
            self.zone.records.setdefault(_norm(str(rr.rname)), []).append(rr)

    def add(self, name: str, rtype: str, value: str, ttl: int = 300) -> None:
        """One record; TXT values are plain text (split into 255-byte strings here)."""
        if rtype.upper() == "TXT":
            value = _split_txt(value)
        self.add_zone(f"{_norm(name)}. {ttl} IN {rtype.upper()} {value}\n")

    def add_rr(self, rr: RR) -> None:
        """One dnslib record, for names and data that zone-file syntax cannot carry."""
        self.zone.records.setdefault(_norm(str(rr.rname)), []).append(rr)

    def remove(self, name: str) -> None:
        self.zone.records.pop(_norm(name), None)

    def servfail(self, name: str) -> None:
        self.zone.servfail_names.add(_norm(name))

    def drop(self, name: str, *, keep_records: bool = False) -> None:
        """Never answer queries for `name` (a timeout); with keep_records, only those
        for types the name has no records of (a server that chokes on some types)."""
        self.zone.drop_names[_norm(name)] = keep_records

    def authentic(self, suffix: str) -> None:
        self.zone.ad_suffixes.add(_norm(suffix))

    def resolver(self, *, timeout: float = 1.0, lifetime: float = 2.0, cache: bool = False):  # type: ignore[no-untyped-def]
        from mailcore.dns import DNSResolver

        return DNSResolver(self.address, timeout=timeout, lifetime=lifetime, cache=cache)

    def stop(self) -> None:
        for s in self._servers:
            s.server.shutdown()
            s.server.server_close()


@pytest.fixture
def dns_server() -> Iterator[DNSTestServer]:
    server = DNSTestServer()
    yield server
    server.stop()


@pytest.fixture
def dns_settings(dns_server: DNSTestServer, settings):  # type: ignore[no-untyped-def]
    """settings.MOX_DNS_RESOLVER (and dnspython's default resolver) -> dns_server."""
    import dns.resolver

    from moxweb.resolver import configure_default_resolver, reset_resolver

    saved = dns.resolver.default_resolver
    settings.MOX_DNS_RESOLVER = dns_server.address
    reset_resolver()
    configure_default_resolver()
    yield dns_server
    dns.resolver.default_resolver = saved
    reset_resolver()


def free_udp_port() -> int:
    """A loopback UDP port with nothing listening (for "server unreachable" tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
