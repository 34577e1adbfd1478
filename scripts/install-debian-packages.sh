#!/usr/bin/env bash
# Debian packages the tests drive as real peers and clients. Idempotent; needs root.
#   swaks          SMTP client (tests/smtp)
#   chromium       headless browser (tests/web)
#   pebble         ACME test server (tests/autotls)
#   isync          mbsync, a real IMAP sync client (tests/imap)
#   dovecot-imapd  the IMAP oracle for ENVELOPE/BODYSTRUCTURE and the IMAP benchmark peer
#   postfix        the SMTP peer for integration tests and benchmarks (smtp-source, smtp-sink);
#                  installed with "No configuration" so nothing listens on port 25
set -euo pipefail
packages=(swaks chromium pebble isync dovecot-imapd postfix)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  # Debian's packages start their daemons where an init system runs; the tests start
  # their own instances on loopback ports, so stop any system ones.
  for svc in dovecot postfix; do
    service "$svc" stop >/dev/null 2>&1 || true
  done
fi
