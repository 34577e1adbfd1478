"""`manage.py quickstart you@example.com`: set up a new installation."""
from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.actions import AccountError
from moxweb.quickstart import QuickstartError, quickstart, report_lines


class Command(BaseCommand):
    help = (
        "Set up a new installation for ADDRESS: the domain (with DKIM keys, Ed25519 and RSA-2048), "
        "the account with a generated password and DMARC/TLS report addresses, the admin login with a "
        "generated password, moxweb.env (settings) and moxweb.service (systemd unit) in the data "
        "directory. Prints the passwords, client settings, the DNS records to create, how to start "
        "and the unit. Checks needing the network (public IPs, reverse DNS, block lists) only warn."
    )
    requires_migrations_checks = False

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("address", help="your email address, e.g. you@example.com")
        parser.add_argument("--hostname", default="", help="mail host name (default: this machine's full name)")
        parser.add_argument(
            "--existing-webserver",
            action="store_true",
            help="another web server keeps ports 80/443 and proxies to moxweb's web pages on 127.0.0.1:1080",
        )
        parser.add_argument("--dns-timeout", type=float, default=3.0, help="seconds per DNS check (default 3)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = quickstart(
                options["address"],
                options["hostname"],
                options["existing_webserver"],
                dns_timeout=options["dns_timeout"],
            )
        except (QuickstartError, AccountError) as exc:
            raise CommandError(str(exc)) from exc
        for line in report_lines(result):
            self.stdout.write(line)
