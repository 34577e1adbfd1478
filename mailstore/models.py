"""Mailboxes, messages (metadata here, bytes in files), subscriptions and the change log.

Every change to an account's mail gets the account's next modseq (RFC 7162), and a
`Change` row keyed by it; IMAP sessions replay the log for untagged updates, IDLE,
CONDSTORE and QRESYNC (see docs/changes.md).
"""
from __future__ import annotations

import functools
import operator

from django.db import models

from accounts.models import Account


class Store(models.Model):
    """Per-account counters, locked (row lock / SQLite write lock) for every change."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="store", primary_key=True)
    highest_modseq = models.BigIntegerField(default=1)
    next_uidvalidity = models.BigIntegerField(default=1)
    # Sum of message sizes, for quota and STATUS SIZE.
    size = models.BigIntegerField(default=0)


class Mailbox(models.Model):
    class SpecialUse(models.TextChoices):
        NONE = "", "none"
        ARCHIVE = "\\Archive", "Archive"
        DRAFTS = "\\Drafts", "Drafts"
        JUNK = "\\Junk", "Junk"
        SENT = "\\Sent", "Sent"
        TRASH = "\\Trash", "Trash"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="mailboxes")
    name = models.CharField(max_length=1024)
    special_use = models.CharField(max_length=16, choices=SpecialUse.choices, blank=True, default="")
    uidvalidity = models.BigIntegerField()
    uidnext = models.BigIntegerField(default=1)
    # Highest modseq of any change in this mailbox (RFC 7162 HIGHESTMODSEQ).
    highest_modseq = models.BigIntegerField(default=1)
    # Keywords ever used in this mailbox, shown in SELECT's FLAGS.
    keywords = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="mailbox_name_unique")]
        ordering = ["account_id", "name"]

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    """IMAP subscriptions are by name and may name mailboxes that do not exist (RFC 9051 6.3.7)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="subscriptions")
    name = models.CharField(max_length=1024)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="subscription_unique")]


# System flags and mox's well-known keywords kept as boolean fields, in bit order of
# `Message.flagmask`.
FLAG_NAMES = {
    "seen": "\\Seen",
    "answered": "\\Answered",
    "flagged": "\\Flagged",
    "deleted": "\\Deleted",
    "draft": "\\Draft",
    "forwarded": "$Forwarded",
    "junk": "$Junk",
    "notjunk": "$NotJunk",
    "phishing": "$Phishing",
    "mdnsent": "$MDNSent",
}


class Message(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="messages")
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="messages")
    uid = models.BigIntegerField()
    modseq = models.BigIntegerField()
    created_modseq = models.BigIntegerField()
    received = models.DateTimeField(db_index=True)

    # System flags and mox's well-known keywords as booleans; other keywords lower-cased.
    seen = models.BooleanField(default=False)
    answered = models.BooleanField(default=False)
    flagged = models.BooleanField(default=False)
    deleted = models.BooleanField(default=False)
    draft = models.BooleanField(default=False)
    forwarded = models.BooleanField(default=False)
    junk = models.BooleanField(default=False)
    notjunk = models.BooleanField(default=False)
    phishing = models.BooleanField(default=False)
    mdnsent = models.BooleanField(default=False)
    keywords = models.JSONField(default=list, blank=True)
    # The ten flags above as one bit mask (bit n: the n-th of FLAG_NAMES), kept by the
    # database: FLAGS of a large mailbox are read from one column of an index
    # (imapserver/fetch.py) instead of ten.
    flagmask = models.GeneratedField(
        expression=functools.reduce(operator.add, (
            models.Case(models.When(**{field: True}, then=models.Value(1 << bit)), default=models.Value(0))
            for bit, field in enumerate(FLAG_NAMES)
        )),
        output_field=models.IntegerField(),
        db_persist=True,
    )

    # Size is prefix + file, as IMAP RFC822.SIZE reports it.
    size = models.BigIntegerField()
    # Headers we added at delivery (Received, Authentication-Results...), kept apart so
    # the stored file holds the bytes exactly as received.
    prefix = models.BinaryField(default=b"", blank=True)
    # Path of the message file relative to MOX_DATA_DIR.
    path = models.CharField(max_length=255)

    # Summary for listings and reputation, and the parsed MIME structure for FETCH.
    message_id = models.CharField(max_length=998, blank=True, default="", db_index=True)
    subject = models.TextField(blank=True, default="")
    from_address = models.CharField(max_length=512, blank=True, default="")
    to_addresses = models.JSONField(default=list, blank=True)
    sent_date = models.DateTimeField(null=True, blank=True)
    parsed = models.JSONField(default=dict, blank=True)
    # What SEARCH matches (mailcore/imap/searchtext.py): the decoded bodies and the decoded
    # header fields, lower-cased; None (older rows, text with NUL) means read the file.
    search_body = models.TextField(null=True, blank=True, default=None)
    search_header = models.TextField(null=True, blank=True, default=None)
    # FETCH ENVELOPE's answer, rendered at delivery: b"<structure version>:" + the
    # envelope (mailcore/imap/render.py stored_envelope); another version is ignored.
    envelope = models.BinaryField(null=True, blank=True, default=None)

    # Envelope and connection details for reputation (mox Message fields).
    remote_ip = models.CharField(max_length=64, blank=True, default="")
    ehlo_domain = models.CharField(max_length=255, blank=True, default="")
    mail_from = models.CharField(max_length=512, blank=True, default="")
    rcpt_to = models.CharField(max_length=512, blank=True, default="")
    dkim_domains = models.JSONField(default=list, blank=True)
    validations = models.JSONField(default=dict, blank=True)

    # Reputation (mox-v0.0.5 section 1.1.11, smtpserver/reputation.py). `mailbox_orig` is
    # the id of the mailbox the message was delivered to, kept through moves (so Archive
    # or Trash still count for Inbox); a message stored in Rejects has its intended
    # mailbox in `mailbox_destined`, which becomes `mailbox_orig` when moved out of
    # Rejects. Plain ids, not foreign keys: a removed mailbox leaves them dangling,
    # harmlessly. Messages not received over SMTP have empty fields and never match.
    mailbox_orig = models.BigIntegerField(null=True, blank=True)
    mailbox_destined = models.BigIntegerField(null=True, blank=True)
    # The remote IP masked as mox does: IPv4 /32, /26, /21; IPv6 /64, /48, /32.
    remote_ip_masked1 = models.CharField(max_length=64, blank=True, default="")
    remote_ip_masked2 = models.CharField(max_length=64, blank=True, default="")
    remote_ip_masked3 = models.CharField(max_length=64, blank=True, default="")
    mail_from_localpart = models.CharField(max_length=255, blank=True, default="")
    mail_from_domain = models.CharField(max_length=255, blank=True, default="")
    # The RFC5322.From address; domains in ASCII (A-labels), lower case.
    msg_from_localpart = models.CharField(max_length=255, blank=True, default="")
    msg_from_domain = models.CharField(max_length=255, blank=True, default="")
    msg_from_orgdomain = models.CharField(max_length=255, blank=True, default="")
    # mox's Validation words (Validation below); the booleans are what reputation uses.
    ehlo_validation = models.CharField(max_length=16, blank=True, default="")
    mail_from_validation = models.CharField(max_length=16, blank=True, default="")
    msg_from_validation = models.CharField(max_length=16, blank=True, default="")
    ehlo_validated = models.BooleanField(default=False)
    mail_from_validated = models.BooleanField(default=False)
    msg_from_validated = models.BooleanField(default=False)
    # SHA-256 (hex) of the received bytes, for duplicates in Rejects (mox MessageHash).
    message_hash = models.CharField(max_length=64, blank=True, default="")

    # Junk training state: None untrained, True trained as junk, False trained as ham.
    trained_junk = models.BooleanField(null=True, default=None)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mailbox", "uid"], name="message_uid_unique")]
        indexes = [
            models.Index(fields=["mailbox", "modseq"], name="message_mailbox_modseq"),
            # Covers FETCH's column items (imapserver/fetch.py): FLAGS of a large mailbox
            # are read from this index alone, not from the wide rows.
            models.Index(fields=["mailbox", "uid", "flagmask", "seen", "answered", "flagged", "deleted", "draft",
                                 "forwarded", "junk", "notjunk", "phishing", "mdnsent", "keywords", "modseq"],
                         name="message_flags"),
            models.Index(fields=["account", "received"], name="message_account_received"),
            models.Index(fields=["mailbox_orig", "received"], name="message_orig_received"),
            models.Index(fields=["mailbox_orig", "msg_from_domain", "received"], name="message_orig_fromdom"),
            models.Index(fields=["mailbox_orig", "msg_from_orgdomain", "received"], name="message_orig_fromorg"),
            models.Index(fields=["mailbox_orig", "mail_from_domain", "received"], name="message_orig_mailfrom"),
            models.Index(fields=["mailbox_orig", "ehlo_domain", "received"], name="message_orig_ehlo"),
            models.Index(fields=["remote_ip_masked1", "received"], name="message_ipmasked1"),
            models.Index(fields=["remote_ip_masked2", "received"], name="message_ipmasked2"),
            models.Index(fields=["remote_ip_masked3", "received"], name="message_ipmasked3"),
        ]
        ordering = ["mailbox_id", "uid"]

    class Validation(models.TextChoices):
        """mox store.Validation: how the MAIL FROM, EHLO or From identity checked out."""

        UNKNOWN = "", "unknown"
        STRICT = "strict", "strict"
        DMARC = "dmarc", "dmarc"
        RELAXED = "relaxed", "relaxed"
        PASS = "pass", "pass"
        NEUTRAL = "neutral", "neutral"
        TEMPERROR = "temperror", "temperror"
        PERMERROR = "permerror", "permerror"
        FAIL = "fail", "fail"
        SOFTFAIL = "softfail", "softfail"
        NONE = "none", "none"

    SYSTEM_FLAGS = {
        "\\seen": "seen",
        "\\answered": "answered",
        "\\flagged": "flagged",
        "\\deleted": "deleted",
        "\\draft": "draft",
        "$forwarded": "forwarded",
        "$junk": "junk",
        "$notjunk": "notjunk",
        "$phishing": "phishing",
        "$mdnsent": "mdnsent",
    }
    FLAG_NAMES = FLAG_NAMES

    def flag_list(self) -> list[str]:
        """IMAP flags in canonical spelling, system flags first."""
        return [name for field, name in self.FLAG_NAMES.items() if getattr(self, field)] + list(self.keywords)


class Change(models.Model):
    """The per-account change log, keyed by modseq. IMAP sessions catch up by reading the
    rows after the last modseq they saw; QRESYNC's VANISHED comes from `expunge` rows."""

    class Kind(models.TextChoices):
        ADD = "add", "message added"
        FLAGS = "flags", "flags changed"
        EXPUNGE = "expunge", "messages expunged"
        MAILBOX_ADD = "mailbox-add", "mailbox created"
        MAILBOX_REMOVE = "mailbox-remove", "mailbox deleted"
        MAILBOX_RENAME = "mailbox-rename", "mailbox renamed"
        SUBSCRIPTION = "subscription", "subscription changed"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="changes")
    modseq = models.BigIntegerField()
    mailbox_id_ref = models.BigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # UIDs affected (add: one; flags: one; expunge: several).
    uids = models.JSONField(default=list, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "modseq"], name="change_modseq_unique")]
        ordering = ["account_id", "modseq"]


class JunkWord(models.Model):
    """Per-account Bayesian word counts (mox junk filter). The word "-" holds the totals
    of trained ham and spam messages."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="junk_words")
    word = models.CharField(max_length=255)
    ham = models.PositiveIntegerField(default=0)
    spam = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "word"], name="junkword_unique")]


class Recipient(models.Model):
    """An address the account sent mail to (mox store.Recipient), written when a
    submitted message is queued. Reputation: mail from someone we wrote to is wanted."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="sent_recipients")
    localpart = models.CharField(max_length=255)
    domain = models.CharField(max_length=255)  # ASCII, lower case
    orgdomain = models.CharField(max_length=255)
    sent = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["account", "domain", "localpart", "sent"], name="recipient_address"),
            models.Index(fields=["account", "orgdomain", "sent"], name="recipient_orgdomain"),
        ]


class MessageDKIMDomain(models.Model):
    """One verified DKIM domain of a message, for reputation's "mail signed by this
    domain" query (mox indexes Message.DKIMDomains); copies of the message's
    `mailbox_orig` and `received` make it one index range."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="dkim_rows")
    domain = models.CharField(max_length=255)  # ASCII, lower case
    mailbox_orig = models.BigIntegerField(null=True)
    received = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["domain", "mailbox_orig", "received"], name="dkimdomain_lookup")]
