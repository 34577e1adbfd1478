"""DANE for SMTP (RFC 7672): matching a TLS peer's certificates against TLSA records
(RFC 6698 section 2.1). The TLSA answer must have been DNSSEC-validated (AD bit);
the caller checks that, this module only matches."""
from __future__ import annotations

from mailcore.dane.match import TLSARecord, name_matches, record_matches, usable, verify_chain

__all__ = ["TLSARecord", "name_matches", "record_matches", "usable", "verify_chain"]
