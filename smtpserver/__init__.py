"""SMTP listeners: incoming mail (25), submission (587, STARTTLS) and submissions (465).

- `listener.serve_smtp(sock, kind=, tls=, hostname=, localserve=)`: the entry point.
- `connection.SMTPConnection`: aiosmtpd's protocol class with our own command loop
  (one `do_<COMMAND>` method each); `auth` (SASL) and `delivery` (DATA/BDAT results)
  are mixed in; `store` holds every database call, run in the process's
  database pool (`dbpool`).
- `delivery.INCOMING_HEADER_HOOKS`: async callables `(connection, transaction, path)
  -> bytes` whose header lines go into the stored prefix of incoming mail, before
  Received (where message authentication adds Authentication-Results).
- Protocol parsing lives in `mailcore.smtp`, limiters in `mailcore.ratelimit`, SASL in
  `mailcore.sasl.server`.
"""
