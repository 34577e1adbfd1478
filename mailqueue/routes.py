"""Choosing a transport for one delivery attempt (mox v0.0.5 routes).

A transport named on the message (set by `queue kick --transport`) overrides routes.
Otherwise routes are evaluated account first, then the sender's domain, then the
global ones (no account, no domain), in their `order`; the first whose criteria all
match wins, and no match means direct delivery by MX.
"""
from __future__ import annotations

from django.db.models import Q

from accounts.actions import domain_forms_safe
from mailqueue.models import QueuedMessage, Route, Transport


class RouteError(Exception):
    """A named transport that does not exist: a permanent failure of the message."""


def domain_matches(patterns: list[str], domain: str) -> bool:
    """An empty list matches all; "example.com" matches only itself; ".example.com"
    matches it and every subdomain. Compared in IDNA A-label form, case-insensitive."""
    if not patterns:
        return True
    d = domain_forms_safe(domain)
    for p in patterns:
        if p.startswith("."):
            base = domain_forms_safe(p[1:])
            if d == base or d.endswith("." + base):
                return True
        elif domain_forms_safe(p) == d:
            return True
    return False


def route_matches(route: Route, qm: QueuedMessage) -> bool:
    """`qm.attempts` counts the attempt being made (it is incremented at claim), so a
    route with minimum_attempts=3 applies from the third attempt on."""
    if route.minimum_attempts and qm.attempts < route.minimum_attempts:
        return False
    return domain_matches(route.from_domains, qm.sender_domain) and domain_matches(route.to_domains, qm.recipient_domain)


def candidate_routes(qm: QueuedMessage) -> list[Route]:
    routes: list[Route] = []
    base = Route.objects.select_related("transport")
    if qm.account_id:
        routes += list(base.filter(account_id=qm.account_id).order_by("order", "id"))
    if qm.sender_domain:
        ascii_domain = domain_forms_safe(qm.sender_domain)
        routes += list(base.filter(account__isnull=True, domain__ascii=ascii_domain).order_by("order", "id"))
    routes += list(base.filter(Q(account__isnull=True) & Q(domain__isnull=True)).order_by("order", "id"))
    return routes


def select_transport(qm: QueuedMessage, cache: dict[tuple[object, ...], Transport | None] | None = None
                     ) -> Transport | None:
    """The transport for this attempt; None means direct delivery. `cache`, kept for
    one batch of attempts, answers messages alike in everything routes look at (the
    batch's messages share a recipient domain) without asking the database again."""
    key = (qm.transport, qm.account_id, qm.sender_domain, qm.recipient_domain, qm.attempts)
    if cache is not None and key in cache:
        return cache[key]
    if qm.transport:
        t = Transport.objects.filter(name=qm.transport).first()
        if t is None:
            raise RouteError(f"cannot find transport {qm.transport!r}")
        chosen: Transport | None = t
    else:
        chosen = next((route.transport for route in candidate_routes(qm) if route_matches(route, qm)), None)
    if cache is not None:
        cache[key] = chosen
    return chosen
