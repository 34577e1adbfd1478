"""Incoming DMARC aggregate reports and TLS reports: the domains' reporting addresses,
the stored reports, and the admin pages that show them (mox-v0.0.5 section 6)."""
