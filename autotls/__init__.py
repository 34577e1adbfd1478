"""Automatic TLS: ACME certificates (RFC 8555) for the mail hostname, mta-sts.<domain>
and autoconfig.<domain>, and the one SNI-aware TLS configuration every listener uses.

Modules: `store` (files under DATA_DIR/tls/acme, mode 0600), `acmeclient` (the ACME
protocol on certbot's acme library, HTTP-01 and TLS-ALPN-01), `manager` (which names,
renewal, backoff, status), `tls` (server_context with the SNI callback), `startup`
(the once-per-process DNS check), `views`/`urls` (HTTP-01 answers).
"""
