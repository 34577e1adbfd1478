"""SMTP MTA Strict Transport Security (RFC 8461): the `_mta-sts` TXT record, the
policy file, MX host matching, and fetching the policy over verified HTTPS."""
from __future__ import annotations

from mailcore.mtasts.fetch import FetchError, fetch_policy, lookup_record
from mailcore.mtasts.policy import Mode, Policy, PolicyError, Record, mx_matches, parse_policy, parse_record

__all__ = [
    "FetchError",
    "Mode",
    "Policy",
    "PolicyError",
    "Record",
    "fetch_policy",
    "lookup_record",
    "mx_matches",
    "parse_policy",
    "parse_record",
]
