"""`manage.py dkim genkey|list|sign|unsign DOMAIN ...`: a domain's DKIM keys;
`dkim lookup SELECTOR DOMAIN` and `dkim verify FILE`: DKIM as the server sees it."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.dkimkeys import DKIMKeyError, add_key, set_signing, txt_record_line
from accounts.models import DKIMKey
from moxweb import lookups
from moxweb.management.lookupcommand import domain_argument, read_message_file, run_lookup


class Command(BaseCommand):
    help = (
        "Manage the DKIM keys of a domain. genkey DOMAIN [--algorithm ed25519|rsa] [--selector S] "
        "[--sign]: make a key (RSA-2048 or Ed25519; selector <year><letter> by default) and print the "
        "DNS record to publish; it signs only with --sign or after `dkim sign`, so publish the record "
        "first. list DOMAIN: every key with its record. sign/unsign DOMAIN SELECTOR: turn signing "
        "with a key on or off (keep an old key published a few days after unsign). lookup SELECTOR "
        "DOMAIN: print and check the key record in DNS. verify FILE: verify every DKIM-Signature of "
        "a message file (- for stdin) through the configured resolver."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        gen = sub.add_parser("genkey", help="make a key and print its DNS record")
        gen.add_argument("domain")
        gen.add_argument("--algorithm", choices=["ed25519", "rsa"], default="ed25519")
        gen.add_argument("--selector", default="", help="default: <year><first free letter>")
        gen.add_argument("--sign", action="store_true", help="sign with it at once")
        lst = sub.add_parser("list", help="the domain's keys and their DNS records")
        lst.add_argument("domain")
        for name in ("sign", "unsign"):
            p = sub.add_parser(name, help=f"{name} outgoing mail with a key")
            p.add_argument("domain")
            p.add_argument("selector")
        lookup = sub.add_parser("lookup", help="print the key record SELECTOR._domainkey.DOMAIN")
        lookup.add_argument("selector")
        lookup.add_argument("domain")
        verify = sub.add_parser("verify", help="verify the DKIM signatures of a message file")
        verify.add_argument("file", help="the message as received (RFC 5322), - for stdin")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "lookup":
            selector, name = options["selector"], options["domain"]
            run_lookup(self, lambda r: lookups.dkim_lookup(r, selector, name))
            return
        if options["action"] == "verify":
            message = read_message_file(options["file"])
            run_lookup(self, lambda r: lookups.dkim_verify(r, message))
            return
        domain = domain_argument(options["domain"])
        action = options["action"]
        try:
            if action == "genkey":
                key = add_key(domain, options["algorithm"], options["selector"], sign=options["sign"])
                state = "signing" if key.sign else "not signing yet: publish the record, then `dkim sign`"
                self.stdout.write(f"{key.algorithm} key {key.selector} added to {domain.name} ({state})")
                self.stdout.write(txt_record_line(key))
            elif action == "list":
                for key in DKIMKey.objects.filter(domain=domain).order_by("selector"):
                    self.stdout.write(f"; {key.selector} {key.algorithm} {'signing' if key.sign else 'not signing'}")
                    self.stdout.write(txt_record_line(key))
            else:
                key = set_signing(domain, options["selector"], action == "sign")
                self.stdout.write(f"{domain.name} {key.selector}: {'signing' if key.sign else 'not signing'}")
        except DKIMKeyError as exc:
            raise CommandError(str(exc)) from exc
