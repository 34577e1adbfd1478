"""Time every admin console and account page with a large installation: 1,000 accounts,
100 domains, 100,000 queued messages (and 50,000 stored messages of which 50 refused, 1,000 delivery
attempts, 2,000 DMARC and 1,000 TLS reports). A web page has no Debian peer: the figures
are moxweb's own, per page, against the target of 200 ms.

    flock /tmp/moxweb-bench.lock .venv/bin/python bench/web_pages.py [--db sqlite|postgresql|both]

Each database runs in a child process (Django is configured once per process) with a
fresh database: SQLite in a temporary directory, PostgreSQL in `moxweb_w` (dropped and
created again). The data is written with bulk_create (no fsync: it is only set-up); the
pages are rendered by Django's test client, each once to warm up and then --runs times;
the table gives the median and the slowest run, and the number of SQL queries.

The DNS check page is left out: it asks the internet's DNS (its checks are timed by
tests/web/test_admin_dnscheck.py against the test DNS server)."""
from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import load, machine  # noqa: E402
from bench.web_common import run_children  # noqa: E402

TARGET_MS = 200.0
BENCH_DOMAIN = "bench.example"
BENCH_ADDRESS = f"user@{BENCH_DOMAIN}"
BENCH_PASSWORD = "benchpassword"


def fill(n_domains: int, n_accounts: int, n_queued: int, n_messages: int) -> dict[str, int]:
    """The installation, written in bulk. Returns ids the pages need."""
    from django.db import transaction
    from django.utils import timezone

    from accounts import actions
    from accounts.models import Account, Address, Domain
    from deliverylog.models import DeliveryAttempt
    from mailqueue.models import QueuedMessage, Route, Transport
    from mailstore.models import Mailbox, Message, Store
    from reports.models import DMARCRecord, DMARCReport, TLSPolicyResult, TLSReport
    from webadmin import actions as console

    rnd = random.Random(7)
    now = timezone.now()
    console.set_admin_password("adminpassword")
    bench_domain = console.add_domain(BENCH_DOMAIN, "+")
    bench = actions.create_account("bench", BENCH_ADDRESS, BENCH_PASSWORD)
    with transaction.atomic():
        domains = Domain.objects.bulk_create(
            [Domain(name=f"d{i:03d}.example", ascii=f"d{i:03d}.example") for i in range(n_domains - 1)]
        )
        domains = list(Domain.objects.all())
        accounts = Account.objects.bulk_create(
            [Account(name=f"acc{i:04d}", domain=domains[i % len(domains)]) for i in range(n_accounts - 1)],
            batch_size=500,
        )
        accounts = list(Account.objects.exclude(pk=bench.pk))
        Address.objects.bulk_create(
            [Address(localpart=f"acc{i:04d}", domain=a.domain, account=a) for i, a in enumerate(accounts)]
            + [Address(localpart=f"alias{i:04d}", domain=a.domain, account=a) for i, a in enumerate(accounts[::3])],
            batch_size=500,
        )
        Store.objects.bulk_create([Store(account=a) for a in accounts], batch_size=500)
        Mailbox.objects.bulk_create(
            [Mailbox(account=a, name="Inbox", uidvalidity=1) for a in accounts], batch_size=500
        )
        inboxes = {m.account_id: m for m in Mailbox.objects.filter(name="Inbox")}
        # Refused mail is kept in the account's Rejects mailbox (webadmin.refusals.REFUSED).
        rejects = Mailbox.objects.create(account=bench, name="Rejects", uidvalidity=1)
        # Messages: a fifth in the benchmark account (its pages count them), the rest spread.
        rows = []
        uids: dict[int, int] = {}
        for i in range(n_messages):
            a = bench if i % 5 == 0 else accounts[i % len(accounts)]
            smtp = i % 10 == 0
            # One in 100 of those was refused and kept (in the benchmark account: i % 5 == 0).
            refused = smtp and i % 1000 == 0
            box = rejects if refused else inboxes[a.pk]
            uids[box.pk] = uid = uids.get(box.pk, 0) + 1
            rows.append(Message(
                account_id=a.pk, mailbox_id=box.pk, uid=uid, modseq=uid + 1, created_modseq=uid + 1,
                received=now - timedelta(minutes=n_messages - i), size=2000 + i % 5000, path=f"msg/{i}",
                subject=f"message {i}", from_address="sender@remote.example",
                remote_ip="192.0.2.%d" % (i % 250 + 1) if smtp else "",
                mail_from="sender@remote.example" if smtp else "", rcpt_to=f"{a.name}@x" if smtp else "",
                validations={"spf": "pass", "dkim": "pass"} if smtp else {}, mailbox_orig=box.pk if smtp else None,
                mailbox_destined=inboxes[a.pk].pk if refused else None,
                prefix=b"X-Mox-Reason: junk-content\r\n" if refused else b"",
            ))
            if len(rows) == 5000:
                Message.objects.bulk_create(rows)
                rows = []
        Message.objects.bulk_create(rows)
        for box_pk, uid in uids.items():
            Mailbox.objects.filter(pk=box_pk).update(uidnext=uid + 1)
        rows = []
        for i in range(n_queued):
            a = accounts[i % len(accounts)]
            rows.append(QueuedMessage(
                account_id=a.pk, sender_localpart=a.name, sender_domain=a.domain.ascii,
                recipient_localpart=f"rcpt{i}", recipient_domain=f"remote{i % 5000}.example",
                next_attempt=now + timedelta(seconds=rnd.randrange(-3600, 48 * 3600)),
                attempts=i % 5, hold=i % 10 == 0, last_error="451 try later" if i % 3 == 0 else "",
                size=3000 + i % 10000, path=f"queue/{i}", message_id=f"<{i}@bench>",
            ))
            if len(rows) == 5000:
                QueuedMessage.objects.bulk_create(rows)
                rows = []
        QueuedMessage.objects.bulk_create(rows)
        DeliveryAttempt.objects.bulk_create([
            DeliveryAttempt(time=now - timedelta(seconds=i), queue_id=i, attempt=1, sender="a@b.example",
                            recipient=f"r{i}@remote.example", result=("delivered", "retry", "failed")[i % 3],
                            remote_mta="mx.remote.example", detail="" if i % 3 == 0 else "451 later")
            for i in range(1000)
        ])
        transport = Transport.objects.create(name="relay", kind="smtp", host="relay.example")
        Route.objects.bulk_create([Route(order=i, to_domains=[f"remote{i}.example"], transport=transport) for i in range(50)])
        names = [d.ascii for d in domains]
        dmarc = DMARCReport.objects.bulk_create([
            DMARCReport(org_name="google.com", report_id=f"r{i}", begin=now - timedelta(days=i % 60 + 1),
                        end=now - timedelta(days=i % 60), domain=names[i % len(names)], from_domain="google.com",
                        policy={"p": "reject"}, feedback={})
            for i in range(2000)
        ], batch_size=500)
        dmarc = list(DMARCReport.objects.all())
        DMARCRecord.objects.bulk_create([
            DMARCRecord(report=r, source_ip="192.0.2.1", count=5 + j, disposition="none", dkim=("pass", "fail")[j],
                        spf="pass", header_from=r.domain)
            for r in dmarc for j in range(2)
        ], batch_size=1000)
        TLSReport.objects.bulk_create([
            TLSReport(org_name="microsoft.com", report_id=f"t{i}", begin=now - timedelta(days=i % 60 + 1),
                      end=now - timedelta(days=i % 60), domain=names[i % len(names)], from_domain="microsoft.com",
                      report={})
            for i in range(1000)
        ], batch_size=500)
        TLSPolicyResult.objects.bulk_create([
            TLSPolicyResult(report=r, policy_type="sts", policy_domain=r.domain, successful=100, failed=r.pk % 3)
            for r in TLSReport.objects.all()
        ], batch_size=1000)
    return {
        "account": accounts[len(accounts) // 2].pk,
        "queued": QueuedMessage.objects.order_by("id").values_list("id", flat=True)[n_queued // 2],
        "dmarc": dmarc[0].pk,
        "tls": TLSReport.objects.order_by("id").values_list("id", flat=True).first() or 0,
        "bench_domain": bench_domain.pk,
    }


def pages(ids: dict[str, int], n_queued: int) -> list[tuple[str, str, str, dict[str, str]]]:
    """(persona, label, path, extra request headers)."""
    last_queue_page = (n_queued + 99) // 100
    admin = [
        ("dashboard", "/admin/"),
        ("domains", "/admin/domains/"),
        ("domain", f"/admin/domains/{BENCH_DOMAIN}/"),
        ("domain remove (confirm)", f"/admin/domains/{BENCH_DOMAIN}/remove/"),
        ("domain records.txt", f"/admin/domains/{BENCH_DOMAIN}/records.txt"),
        ("accounts", "/admin/accounts/"),
        ("accounts page 5", "/admin/accounts/?page=5"),
        ("accounts search", "/admin/accounts/?q=acc05"),
        ("account", f"/admin/accounts/{ids['account']}/"),
        ("account delete (confirm)", f"/admin/accounts/{ids['account']}/delete/"),
        ("queue", "/admin/queue/"),
        ("queue last page", f"/admin/queue/?page={last_queue_page}"),
        ("queue filter", "/admin/queue/?q=remote42.example"),
        ("queue message", f"/admin/queue/{ids['queued']}/"),
        ("deliveries", "/admin/deliveries/"),
        ("transports", "/admin/transports/"),
        ("routes", "/admin/routes/"),
        ("route add", "/admin/routes/add/"),
        ("reports", "/admin/reports/"),
        ("reports domain", f"/admin/reports/domains/{BENCH_DOMAIN}/"),
        ("dmarc reports", "/admin/reports/dmarc/"),
        ("dmarc report", f"/admin/reports/dmarc/{ids['dmarc']}/"),
        ("tls reports", "/admin/reports/tls/"),
        ("tls report", f"/admin/reports/tls/{ids['tls']}/"),
        ("django admin routes", "/admin/django/mailqueue/route/"),
    ]
    account = [
        ("overview", "/account/"),
        ("password", "/account/password/"),
        ("rulesets", "/account/rulesets/"),
        ("junk", "/account/junk/"),
        ("import", "/account/import/"),
        ("export", "/account/export/"),
        ("apple profile", "/account/apple.mobileconfig"),
    ]
    anon = [
        ("autoconfig", f"/mail/config-v1.1.xml?emailaddress={BENCH_ADDRESS}", {}),
        ("mta-sts policy", "/.well-known/mta-sts.txt", {"HTTP_HOST": f"mta-sts.{BENCH_DOMAIN}"}),
    ]
    return (
        [("admin", label, path, {}) for label, path in admin]
        + [("account", label, path, {}) for label, path in account]
        + [("anonymous", label, path, extra) for label, path, extra in anon]
    )


def child(args: argparse.Namespace) -> None:
    from bench.common import skip_fsync_for_setup

    skip_fsync_for_setup()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    settings.ALLOWED_HOSTS = ["*"]
    logging.disable(logging.INFO)
    call_command("migrate", verbosity=0)
    t0 = time.monotonic()
    ids = fill(args.domains, args.accounts, args.queued, args.messages)
    fill_s = time.monotonic() - t0
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    clients = {"admin": Client(), "account": Client(), "anonymous": Client()}
    clients["admin"].post("/admin/login/", {"username": "admin", "password": "adminpassword"})
    r = clients["account"].post("/account/login/", {"email": BENCH_ADDRESS, "password": BENCH_PASSWORD})
    assert r.status_code == 302, r.status_code
    print(f"{connection.vendor}: filled in {fill_s:.0f} s; {load()}", flush=True)
    print(f"| persona | page | status | median ms | max ms | queries | < {TARGET_MS:.0f} ms |")
    print("|---|---|---|---|---|---|---|")
    slow = 0
    notes: list[str] = []
    for persona, label, path, extra in pages(ids, args.queued):
        c = clients[persona]
        resp = c.get(path, **extra)  # warm-up
        times = []
        queries: list[tuple[float, str]] = []

        def timed(execute, sql, *a):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return execute(sql, *a)
            finally:
                queries.append(((time.perf_counter() - t) * 1000, sql))

        with connection.execute_wrapper(timed):
            c.get(path, **extra)
        for _ in range(args.runs):
            t = time.perf_counter()
            resp = c.get(path, **extra)
            if getattr(resp, "streaming", False):
                b"".join(resp.streaming_content)
            times.append((time.perf_counter() - t) * 1000)
        med = statistics.median(times)
        ok = med < TARGET_MS
        slow += not ok
        print(f"| {persona} | {label} | {resp.status_code} | {med:.0f} | {max(times):.0f} | {len(queries)} | {'yes' if ok else 'NO'} |",
              flush=True)
        if med >= args.show_queries_over:
            slowest = sorted(queries, reverse=True)[:3]
            notes.append(f"{label}: SQL {sum(q for q, _ in queries):.0f} ms in {len(queries)} queries; slowest "
                         + "; ".join(f"{ms:.0f} ms {sql[:160]}" for ms, sql in slowest))
    for note in notes:
        print("  " + note)
    print(f"{connection.vendor}: {slow} page(s) over {TARGET_MS:.0f} ms; {load()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--domains", type=int, default=100)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--queued", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--show-queries-over", type=float, default=100.0, metavar="MS",
                        help="for pages slower than this, print their SQL time and slowest queries")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(machine())
    print(f"{args.domains} domains, {args.accounts} accounts, {args.queued} queued, {args.messages} stored messages")
    run_children(__file__, args.db, [
        "--domains", str(args.domains), "--accounts", str(args.accounts),
        "--queued", str(args.queued), "--messages", str(args.messages), "--runs", str(args.runs),
        "--show-queries-over", str(args.show_queries_over),
    ])


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moxweb.settings")
    main()
