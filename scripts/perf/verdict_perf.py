"""CPU time of the incoming verdict's authentication checks per message
(mailcore.authn.incoming.authenticate: iprev, DKIM, SPF, DMARC), with a warm DNS cache.

    .venv/bin/python scripts/perf/verdict_perf.py [--messages 300] [--rounds 5] [--profile out.prof]

Runs the project's test DNS server (tests/fixtures_dns.py) on loopback with a zone
that has SPF, DMARC, a PTR record and an RSA-2048 DKIM key; the resolver is the
production one (mailcore.dns.DNSResolver) with its cache, warmed by one run first,
so the figures are the pipeline's own CPU, not the network's. Messages are ~20 KB
(text + HTML alternative + attachment, scripts/perf/corpus.py), DKIM-signed.

Prints CPU ms per message (time.process_time, all threads: pyspf may run in a worker
thread) for the whole of authenticate() and for each check alone, the best of
--rounds passes since the machine may be shared.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

# PERF_TREE=/path/to/other/checkout measures that tree's code with this script (for
# before/after figures taken back to back).
ROOT = Path(os.environ.get("PERF_TREE") or Path(__file__).resolve().parents[2])
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import corpus  # noqa: E402

from mailcore.authn import dkim, dmarc, dkimsign, iprev, spf  # noqa: E402
from mailcore.authn.incoming import authenticate, from_domain  # noqa: E402
from tests.authn.keys import RSA_2048  # noqa: E402
from tests.fixtures_dns import DNSTestServer  # noqa: E402

IP = "192.0.2.10"
HELO = "mail.example.test"
MAIL_FROM = "news@example.test"
ZONE = """
$ORIGIN example.test.
@       TXT  "v=spf1 ip4:198.51.100.0/24 include:_spf.example.test a:mail.example.test -all"
_spf    TXT  "v=spf1 ip4:203.0.113.0/24 ip4:192.0.2.0/24 -all"
_dmarc  TXT  "v=DMARC1; p=reject; rua=mailto:dmarc@example.test"
mail    A    192.0.2.10
10.2.0.192.in-addr.arpa. PTR mail.example.test.
"""


def build_messages(n: int) -> list[bytes]:
    vocab = corpus.vocabulary(3000)
    key = [dkimsign.SigningKey("rsa", RSA_2048)]
    out = []
    for i in range(n):
        m = corpus.message(i, vocab, sender=MAIL_FROM)
        out.append(dkimsign.sign(m, "example.test", key) + m)
    return out


async def cpu_per_call(messages: list[bytes], call: Callable[[bytes], Awaitable[object]], rounds: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per message of the best of `rounds` passes (the machine may
    be shared)."""
    best = (float("inf"), float("inf"))
    for _ in range(rounds):
        c0, w0 = time.process_time(), time.perf_counter()
        for m in messages:
            await call(m)
        cpu = (time.process_time() - c0) * 1000 / len(messages)
        wall = (time.perf_counter() - w0) * 1000 / len(messages)
        best = min(best, (cpu, wall))
    return best


async def run(n: int, profile: str, rounds: int) -> None:
    server = DNSTestServer()
    try:
        server.add_zone(ZONE)
        server.add("rsa._domainkey.example.test", "TXT", dkimsign.dns_record(RSA_2048))
        resolver = server.resolver(cache=True, timeout=2.0, lifetime=4.0)
        messages = build_messages(n)
        size = statistics.mean(len(m) for m in messages)

        async def full(m: bytes) -> object:
            v = await authenticate(
                resolver, m, ip=IP, helo=HELO, mail_from=MAIL_FROM, authserv_id="mx.moxweb.test"
            )
            return v

        # Warm the DNS cache and check that the world is as intended.
        v = await full(messages[0])
        statuses = (v.iprev.status, [d.status for d in v.dkim], v.spf.status, v.dmarc.status)
        print(f"statuses: iprev={statuses[0]} dkim={[str(s) for s in statuses[1]]} spf={statuses[2]} dmarc={statuses[3]}")
        assert str(v.dmarc.status) == "pass" and [str(s) for s in statuses[1]] == ["pass"], statuses
        queries = len(server.queries)
        parts: list[tuple[str, Callable[[bytes], Awaitable[object]]]] = [
            ("authenticate (all)", full),
            ("  iprev", lambda m: iprev.lookup(resolver, IP)),
            ("  dkim", lambda m: dkim.verify(resolver, m)),
            ("  spf", lambda m: spf.check_mailfrom(resolver, IP, MAIL_FROM, HELO, receiver="mx.moxweb.test")),
            ("  dmarc", lambda m: dmarc.evaluate(resolver, "example.test", dkim=v.dkim, spf=v.spf)),
        ]
        print(f"{n} messages, mean size {size / 1024:.1f} KiB, warm DNS cache")
        print(f"{'check':<22}{'CPU ms/msg':>14}{'wall ms/msg':>14}   (best of {rounds} passes)")
        for name, call in parts:
            cpu, wall = await cpu_per_call(messages, call, rounds)
            print(f"{name:<22}{cpu:>14.2f}{wall:>14.2f}")
        print(f"DNS queries sent after warm-up: {len(server.queries) - queries}")
        if profile:
            prof = cProfile.Profile()
            prof.enable()
            for m in messages:
                await full(m)
            prof.disable()
            prof.dump_stats(profile)
            print(f"profile written to {profile}")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", default="", help="write a cProfile of authenticate() to this file")
    args = parser.parse_args()
    asyncio.run(run(args.messages, args.profile, args.rounds))


if __name__ == "__main__":
    main()
