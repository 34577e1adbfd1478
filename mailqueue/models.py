"""Outgoing queue: queued messages (one row per recipient, as mox), transports and routes."""
from __future__ import annotations

from django.db import models

from accounts.models import Account, Domain


class Transport(models.Model):
    """How to deliver: directly by MX (default), or through a relay or a SOCKS5 proxy."""

    class Kind(models.TextChoices):
        DIRECT = "direct", "direct (MX lookup)"
        SMTP = "smtp", "SMTP relay (port 25)"
        SUBMISSION = "submission", "submission (587, STARTTLS)"
        SUBMISSIONS = "submissions", "submissions (465, implicit TLS)"
        SOCKS = "socks", "direct through a SOCKS5 proxy"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.DIRECT)
    host = models.CharField(max_length=255, blank=True, default="")
    port = models.PositiveIntegerField(null=True, blank=True)
    # Relay credentials must be usable by the client, so the password is stored as given.
    auth_username = models.CharField(max_length=255, blank=True, default="")
    auth_password = models.CharField(max_length=255, blank=True, default="")
    auth_mechanisms = models.JSONField(default=list, blank=True)
    # smtp: STARTTLS opportunistic unless required; submission: verified TLS unless disabled.
    no_starttls = models.BooleanField(default=False)
    verify_tls = models.BooleanField(default=True)
    # socks: proxy address, the IPs our mail appears from, and the hostname for EHLO.
    socks_address = models.CharField(max_length=255, blank=True, default="")
    remote_ips = models.JSONField(default=list, blank=True)
    socks_hostname = models.CharField(max_length=255, blank=True, default="")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The configuration errors mox's config loader reports for transports."""
        from django.core.exceptions import ValidationError

        from mailcore.smtpclient import SASL_PREFERENCE

        errors: dict[str, str] = {}
        relay = self.kind in (self.Kind.SMTP, self.Kind.SUBMISSION, self.Kind.SUBMISSIONS)
        if relay and not self.host:
            errors["host"] = "a relay transport needs a host"
        if self.kind == self.Kind.SUBMISSIONS and self.no_starttls:
            errors["no_starttls"] = "STARTTLS options do not apply to submissions (implicit TLS)"
        if self.kind == self.Kind.SOCKS and not self.socks_address:
            errors["socks_address"] = "a socks transport needs the proxy address"
        mechs = [str(m).upper() for m in self.auth_mechanisms or []]
        unknown = [m for m in mechs if m not in SASL_PREFERENCE]
        if unknown:
            errors["auth_mechanisms"] = f"unknown mechanism(s): {', '.join(unknown)}"
        elif len(set(mechs)) != len(mechs):
            errors["auth_mechanisms"] = "duplicate mechanism"
        if (self.auth_username or mechs) and not relay:
            errors["auth_username"] = "authentication applies only to relay transports"
        if errors:
            raise ValidationError(errors)


class Route(models.Model):
    """Picks a transport for a message by sender domain, recipient domain and attempts.
    Routes are evaluated account first, then domain, then global (mox v0.0.5 routes)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, null=True, blank=True, related_name="routes")
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, null=True, blank=True, related_name="routes")
    order = models.PositiveIntegerField(default=0)
    from_domains = models.JSONField(default=list, blank=True)
    to_domains = models.JSONField(default=list, blank=True)
    minimum_attempts = models.PositiveIntegerField(default=0)
    transport = models.ForeignKey(Transport, on_delete=models.PROTECT, related_name="routes")

    class Meta:
        ordering = ["order", "id"]


class QueuedMessage(models.Model):
    """One recipient of one outgoing message. Retry state lives here, claimed atomically."""

    # The rows of one message queued for several recipients share the first row's id
    # (mox v0.0.10 BaseID): due together to one domain, they go in one transaction.
    base_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    account = models.ForeignKey(Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="queued")
    sender_localpart = models.CharField(max_length=255, blank=True, default="")
    sender_domain = models.CharField(max_length=255, blank=True, default="")
    recipient_localpart = models.CharField(max_length=255)
    recipient_domain = models.CharField(max_length=255)
    created = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    next_attempt = models.DateTimeField(db_index=True)
    last_attempt = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    dialed_ips = models.JSONField(default=dict, blank=True)
    hold = models.BooleanField(default=False)
    transport = models.CharField(max_length=100, blank=True, default="")
    # Set while a worker delivers it; a stale claim (crashed worker) expires.
    claimed_until = models.DateTimeField(null=True, blank=True)

    size = models.BigIntegerField()
    prefix = models.BinaryField(default=b"", blank=True)
    path = models.CharField(max_length=255, db_index=True)  # checked when a row goes (shared files)
    message_id = models.CharField(max_length=998, blank=True, default="")
    has_8bit = models.BooleanField(default=False)
    smtputf8 = models.BooleanField(default=False)
    requiretls = models.BooleanField(null=True, default=None)
    # DSN (RFC 3461): RET and ENVID for the message, NOTIFY and ORCPT for this recipient.
    dsn_ret = models.CharField(max_length=8, blank=True, default="")
    dsn_envid = models.CharField(max_length=100, blank=True, default="")
    dsn_notify = models.JSONField(default=list, blank=True)
    dsn_orcpt = models.CharField(max_length=512, blank=True, default="")
    # Set once the "delayed" DSN was sent, so it is sent once.
    delayed_dsn_sent = models.BooleanField(default=False)
    # A DSN we queued (mox-v0.0.5 1.1.12): its UTF-8 variant, sent instead of the file's
    # 7-bit one to a next hop with SMTPUTF8, and delivered locally (mox Msg.DSNUTF8).
    dsn_utf8 = models.BinaryField(null=True, blank=True, default=None)

    class Meta:
        ordering = ["next_attempt", "id"]

    @property
    def sender(self) -> str:
        return f"{self.sender_localpart}@{self.sender_domain}" if self.sender_domain else ""

    @property
    def recipient(self) -> str:
        return f"{self.recipient_localpart}@{self.recipient_domain}"


class MTASTSPolicy(models.Model):
    """Cached MTA-STS policy of a recipient domain (RFC 8461 section 5.1): used until
    max_age runs out, refreshed when the `_mta-sts` record's id changes."""

    domain = models.CharField(max_length=255, unique=True)  # A-label form
    record_id = models.CharField(max_length=32)
    mode = models.CharField(max_length=16)
    mx = models.JSONField(default=list)
    max_age = models.PositiveIntegerField()
    policy_text = models.TextField()
    fetched = models.DateTimeField()
    valid_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.domain} ({self.mode})"


class TLSResult(models.Model):
    """The TLS outcome of one connection made for a delivery attempt, kept for outgoing
    TLS reports (RFC 8460): the policy in force and "success" or a result type of
    section 4.3. Rows outlive the queued message they were made for."""

    class PolicyType(models.TextChoices):
        STS = "sts", "MTA-STS"
        TLSA = "tlsa", "DANE (TLSA)"
        NONE = "no-policy-found", "no policy"

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    queue_id = models.BigIntegerField(db_index=True)  # the QueuedMessage, which may be gone
    policy_domain = models.CharField(max_length=255)  # recipient domain, A-label form
    policy_type = models.CharField(max_length=16, choices=PolicyType.choices)
    result = models.CharField(max_length=40)  # "success" or e.g. "certificate-not-trusted"
    mx_host = models.CharField(max_length=255, blank=True, default="")
    ip = models.CharField(max_length=45, blank=True, default="")
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["created", "id"]

    @property
    def success(self) -> bool:
        return self.result == "success"

    def __str__(self) -> str:
        return f"{self.policy_type}:{self.result}"
