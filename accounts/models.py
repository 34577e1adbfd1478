"""Domains, accounts, addresses (destinations), credentials and DKIM keys."""
from __future__ import annotations

from django.db import models


class Domain(models.Model):
    """A domain we accept mail for. `name` is the Unicode form, `ascii` its IDNA A-label form."""

    name = models.CharField(max_length=255, unique=True)
    ascii = models.CharField(max_length=255, unique=True)
    # `user+tag@domain` reaches `user@domain` when the separator is "+"; empty disables it.
    localpart_catchall_separator = models.CharField(max_length=8, blank=True, default="")
    localpart_case_sensitive = models.BooleanField(default=False)
    description = models.TextField(blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Account(models.Model):
    """A mailbox owner. Logs in with any of its addresses (mox: account name is separate)."""

    name = models.CharField(max_length=255, unique=True)
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="accounts")
    full_name = models.CharField(max_length=255, blank=True, default="")
    # Outgoing limits per 24 hours (mox defaults: 1000 messages, 200 first-time recipients).
    max_outgoing_messages_per_day = models.PositiveIntegerField(default=1000)
    max_first_time_recipients_per_day = models.PositiveIntegerField(default=200)
    # mox delays a first-time sender's delivery by 15 s to slow down spammers.
    first_time_sender_delay = models.BooleanField(default=True)
    # 0 means no quota.
    quota_bytes = models.BigIntegerField(default=0)
    # Junk filter parameters (mox defaults); an empty dict disables the filter.
    junk_filter = models.JSONField(default=dict, blank=True)
    # Automatic $Junk/$NotJunk flags by destination mailbox name (mox AutomaticJunkFlags).
    automatic_junk_flags = models.JSONField(default=dict, blank=True)
    # Rulesets that file incoming mail into mailboxes by header or envelope; the shape
    # and its validation are in mailstore/rulesets.py.
    rulesets = models.JSONField(default=list, blank=True)
    # mox RejectsMailbox: rejected incoming mail is kept here for 14 days (at most 1000
    # messages), so a wrongly rejected message can be found; "" keeps none. Not Inbox.
    rejects_mailbox = models.CharField(max_length=255, blank=True, default="Rejects")
    # mox KeepRejects (v0.0.6): the Rejects mailbox is never cleaned up automatically (no
    # 14-day removal, no 1000-message limit), e.g. to keep rejects for junk training.
    keep_rejects = models.BooleanField(default=False)
    # mox SubjectPass.Period in seconds: when > 0, a moderately spammy first message is
    # refused permanently with a token the sender can put in the Subject to get through
    # within this period. 0 disables it.
    subjectpass_period = models.PositiveIntegerField(default=0)
    # Secret for subjectpass tokens, made at first use.
    subjectpass_key = models.CharField(max_length=64, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Address(models.Model):
    """`localpart@domain` delivering to an account's mailbox. An empty localpart is the
    domain's catchall (`@domain`). The localpart is stored canonical: lower-cased unless
    the domain is case-sensitive, quotes removed (the SMTP grammar re-quotes on output)."""

    localpart = models.CharField(max_length=255, blank=True)
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="addresses")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="addresses")
    mailbox = models.CharField(max_length=255, default="Inbox")
    full_name = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["domain", "localpart"], name="address_unique")]
        ordering = ["domain__name", "localpart"]

    def __str__(self) -> str:
        return f"{self.localpart}@{self.domain.name}"

    @property
    def is_catchall(self) -> bool:
        return self.localpart == ""


class Credential(models.Model):
    """Secrets derived from an account's password; the password itself is never stored.

    - `password_hash`: Django's hasher (argon2), for web login, IMAP LOGIN, SASL PLAIN/LOGIN.
    - SCRAM (RFC 5802/7677): salt, iteration count, StoredKey and ServerKey per hash.
    - CRAM-MD5 (RFC 2195): the MD5 states after the HMAC inner and outer pads.
    """

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="credential")
    password_hash = models.CharField(max_length=255)
    scram_sha1_salt = models.BinaryField()
    scram_sha1_iterations = models.PositiveIntegerField()
    scram_sha1_stored_key = models.BinaryField()
    scram_sha1_server_key = models.BinaryField()
    scram_sha256_salt = models.BinaryField()
    scram_sha256_iterations = models.PositiveIntegerField()
    scram_sha256_stored_key = models.BinaryField()
    scram_sha256_server_key = models.BinaryField()
    cram_md5_ipad = models.BinaryField()
    cram_md5_opad = models.BinaryField()
    changed = models.DateTimeField(auto_now=True)


class DKIMKey(models.Model):
    """A DKIM signing key for a domain and selector (RFC 6376, RFC 8463 for Ed25519)."""

    class Algorithm(models.TextChoices):
        RSA = "rsa", "RSA-SHA256"
        ED25519 = "ed25519", "Ed25519-SHA256"

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="dkim_keys")
    selector = models.CharField(max_length=63)
    algorithm = models.CharField(max_length=16, choices=Algorithm.choices)
    private_key_pem = models.TextField()
    # Keys not used for signing can stay published during a rotation.
    sign = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["domain", "selector"], name="dkim_selector_unique")]

    def __str__(self) -> str:
        return f"{self.selector}._domainkey.{self.domain.ascii}"
