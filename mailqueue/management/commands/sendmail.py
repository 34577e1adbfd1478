"""manage.py sendmail [-t] [-f sender] [-i] [recipient ...] < message"""
from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mailqueue.sendmail import SendmailError, sendmail


class Command(BaseCommand):
    help = "Submit a message from standard input, like /usr/sbin/sendmail."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("-t", action="store_true", dest="read_headers", help="recipients from To, Cc and Bcc")
        parser.add_argument("-f", dest="sender", default="", help="envelope sender")
        # Accepted and ignored, as by mox: a lone "." never ends our input anyway.
        parser.add_argument("-i", action="store_true")
        parser.add_argument("-o", dest="options", action="append", default=[])
        parser.add_argument("-F", dest="fullname", default="")
        parser.add_argument("recipients", nargs="*")

    def handle(self, *args: Any, **opts: Any) -> None:
        data = sys.stdin.buffer.read()
        try:
            sendmail(data, opts["recipients"], read_headers=opts["read_headers"], sender=opts["sender"])
        except SendmailError as e:
            raise CommandError(str(e)) from e
