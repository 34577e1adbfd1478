"""manage.py queue list|kick|hold|release|drop|dump: the outgoing queue by hand."""
from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mailqueue import queueops, queueverbs, tlsresults


class Command(BaseCommand):
    help = "List and manage queued outgoing messages (one row per recipient)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        for verb in ("list", "kick", "hold", "release", "drop"):
            p = sub.add_parser(verb)
            p.add_argument("--id", type=int, action="append", dest="ids", help="message id (repeatable)")
            p.add_argument("--domain", default="", help="recipient domain")
            p.add_argument("--transport", dest="with_transport", default=None, help="only messages with this transport")
            if verb == "kick":
                p.add_argument("--use-transport", default=None, help="deliver through this transport from now on")
        d = sub.add_parser("dump")
        d.add_argument("id", type=int)

    def handle(self, *args: Any, **opts: Any) -> None:
        verb = opts["verb"]
        if verb == "dump":
            qm = queueverbs.select(ids=[opts["id"]]).first()
            if qm is None:
                raise CommandError(f"no queued message {opts['id']}")
            sys.stdout.buffer.write(queueverbs.dump(qm))
            sys.stdout.flush()
            return
        qs = queueverbs.select(ids=opts["ids"], domain=opts["domain"], transport=opts["with_transport"])
        if verb == "list":
            rows = list(qs)
            tls = tlsresults.latest(qm.pk for qm in rows)
            for qm in rows:
                state = " held" if qm.hold else ""
                last_tls = tls.get(qm.pk)
                self.stdout.write(
                    f"{qm.pk} {qm.sender or '<>'} -> {qm.recipient} attempts={qm.attempts} "
                    f"next={qm.next_attempt:%Y-%m-%d %H:%M:%S} transport={qm.transport or '-'}{state}"
                    + (f" tls={last_tls.policy_type}:{last_tls.result}" if last_tls else "")
                    + (f" error={qm.last_error!r}" if qm.last_error else "")
                )
            return
        if verb == "kick":
            n = queueverbs.kick(qs, transport=opts["use_transport"])
            self.stdout.write(f"{n} message(s) kicked")
            return
        op = {"hold": queueops.hold, "release": queueops.release, "drop": queueops.drop}[verb]
        n = 0
        for qm in list(qs):
            op(qm)
            n += 1
        past = {"hold": "held", "release": "released", "drop": "dropped"}[verb]
        self.stdout.write(f"{n} message(s) {past}")
