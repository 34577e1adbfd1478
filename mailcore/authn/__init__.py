"""Message authentication for incoming mail: SPF (RFC 7208), DKIM (RFC 6376, 8463),
DMARC (RFC 7489, RFC 9989), iprev (RFC 8601 section 3), DNSBL (RFC 5782) and the
Authentication-Results header (RFC 8601). All DNS goes through mailcore.dns.Resolver.
Results are StrEnums with the RFCs' words."""
