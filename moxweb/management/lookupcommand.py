"""Helpers of the management commands: running a `moxweb.lookups` function, and reading
an IP address, a configured domain or a message file from the command line."""
from __future__ import annotations

import asyncio
import ipaddress
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mailcore.dns import Resolver
from moxweb.lookups import LookupFailed
from moxweb.resolver import get_resolver


def run_lookup(command: BaseCommand, lookup: Callable[[Resolver], Awaitable[list[str]]]) -> None:
    """Resolve through the configured resolver (MOX_DNS_RESOLVER) and print the lines;
    a failed lookup is a CommandError (its text, exit status 1)."""
    resolver = get_resolver()
    try:
        lines = asyncio.run(lookup(resolver))  # type: ignore[arg-type]
    except LookupFailed as e:
        raise CommandError(str(e)) from e
    for line in lines:
        command.stdout.write(line)


def ip_argument(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise CommandError(f"{value!r} is not an IP address") from None


def domain_argument(name: str) -> Any:
    """The configured domain called `name` (either form), else a CommandError."""
    from accounts.actions import find_domain

    domain = find_domain(name)
    if domain is None:
        raise CommandError(f"domain {name} is not configured")
    return domain


def read_message_file(name: str) -> bytes:
    """A message from a file, or from stdin for "-"."""
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        with open(name, "rb") as fh:
            return fh.read()
    except OSError as e:
        raise CommandError(f"{name}: cannot read: {e.strerror or e}") from e
