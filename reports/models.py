"""A domain's reporting addresses (mox's domain `DMARC` and `TLSRPT` config) and the
reports received at them (mox's dmarcdb DomainFeedback and tlsrptdb TLSReportRecord)."""
from __future__ import annotations

from django.db import models

from accounts.models import Account, Domain


class ReportKind(models.TextChoices):
    dmarc = "dmarc", "DMARC"
    tlsrpt = "tlsrpt", "TLSRPT"


DEFAULT_MAILBOX = {ReportKind.dmarc: "DMARC", ReportKind.tlsrpt: "TLSRPT"}


class ReportingAddress(models.Model):
    """Where a domain receives one kind of report: localpart@domain delivered to the
    account's mailbox. The matching accounts.Address row is created alongside."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="reporting_addresses")
    kind = models.CharField(max_length=8, choices=ReportKind.choices)
    localpart = models.CharField(max_length=255)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="reporting_addresses")
    mailbox = models.CharField(max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["domain", "kind"], name="reporting_address_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.localpart}@{self.domain.name}"


class DMARCReport(models.Model):
    """One aggregate report (RFC 7489 appendix C `feedback`)."""

    org_name = models.CharField(max_length=255)
    report_id = models.CharField(max_length=255)
    email = models.CharField(max_length=255, blank=True, default="")
    begin = models.DateTimeField()
    end = models.DateTimeField()
    domain = models.CharField(max_length=255, db_index=True)  # policy domain (ours)
    from_domain = models.CharField(max_length=255)  # the report message's From domain
    policy = models.JSONField(default=dict)  # policy_published
    feedback = models.JSONField(default=dict)  # the whole parsed report
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message_id = models.BigIntegerField(null=True, blank=True)  # mailstore Message.pk
    received = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org_name", "report_id"], name="dmarc_report_unique")]
        ordering = ["-end", "-id"]


class DMARCRecord(models.Model):
    report = models.ForeignKey(DMARCReport, on_delete=models.CASCADE, related_name="records")
    source_ip = models.CharField(max_length=64)
    count = models.PositiveIntegerField()
    disposition = models.CharField(max_length=16)
    dkim = models.CharField(max_length=8)  # policy_evaluated: pass/fail
    spf = models.CharField(max_length=8)
    header_from = models.CharField(max_length=255, blank=True, default="")
    envelope_from = models.CharField(max_length=255, blank=True, default="")
    reasons = models.JSONField(default=list)
    dkim_results = models.JSONField(default=list)  # [{domain, selector, result}]
    spf_results = models.JSONField(default=list)  # [{domain, scope, result}]

    class Meta:
        ordering = ["id"]

    @property
    def passed(self) -> bool:
        """DMARC passes when either evaluated identifier passes (RFC 7489 section 4.2)."""
        return self.dkim == "pass" or self.spf == "pass"


class TLSReport(models.Model):
    """One SMTP TLS report (RFC 8460 section 4)."""

    org_name = models.CharField(max_length=255)
    report_id = models.CharField(max_length=255)
    contact = models.CharField(max_length=255, blank=True, default="")
    begin = models.DateTimeField()
    end = models.DateTimeField()
    domain = models.CharField(max_length=255, db_index=True)  # first of our policy domains
    from_domain = models.CharField(max_length=255)
    mail_from = models.CharField(max_length=255, blank=True, default="")
    report = models.JSONField(default=dict)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message_id = models.BigIntegerField(null=True, blank=True)
    received = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org_name", "report_id"], name="tls_report_unique")]
        ordering = ["-end", "-id"]


class TLSPolicyResult(models.Model):
    report = models.ForeignKey(TLSReport, on_delete=models.CASCADE, related_name="policies")
    policy_type = models.CharField(max_length=16)  # sts, tlsa, no-policy-found
    policy_domain = models.CharField(max_length=255, db_index=True)
    policy_strings = models.JSONField(default=list)
    mx_host = models.JSONField(default=list)
    successful = models.PositiveBigIntegerField(default=0)
    failed = models.PositiveBigIntegerField(default=0)
    failure_details = models.JSONField(default=list)

    class Meta:
        ordering = ["id"]


class OutgoingTLSReport(models.Model):
    """A TLS report we sent (RFC 8460) about our deliveries to a policy domain on one
    UTC day: at most one per (domain, day), so a task run twice sends it once."""

    policy_domain = models.CharField(max_length=255)  # A-label form
    day = models.DateField()
    report_id = models.CharField(max_length=255)
    recipients = models.JSONField(default=list)  # the rua URIs it went to
    successful = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    queue_ids = models.JSONField(default=list)  # its queued messages: no report about reports
    error = models.TextField(blank=True, default="")  # why it could not go to some rua
    sent = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "policy_domain"]
        constraints = [models.UniqueConstraint(fields=["policy_domain", "day"], name="outgoing_tlsreport_once")]

    def __str__(self) -> str:
        return f"TLS report {self.report_id}"


class DMARCEvaluation(models.Model):
    """The DMARC evaluation of one incoming message whose From domain's record asks for
    aggregate reports (rua=), kept for the daily report to that domain (RFC 7489
    section 7.2); rows older than the reports' look-back are removed when sending."""

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    policy_domain = models.CharField(max_length=255)  # where the record was found
    header_from = models.CharField(max_length=255)
    envelope_from = models.CharField(max_length=255, blank=True, default="")
    source_ip = models.CharField(max_length=45)
    disposition = models.CharField(max_length=16)  # none, quarantine, reject: what we did
    dkim_aligned = models.BooleanField(default=False)
    spf_aligned = models.BooleanField(default=False)
    reasons = models.JSONField(default=list)  # [[type, comment], ...]
    dkim_results = models.JSONField(default=list)  # [[domain, selector, result], ...]
    spf_results = models.JSONField(default=list)  # [[domain, scope, result], ...]
    policy = models.JSONField(default=dict)  # the record: p, sp, adkim, aspf, pct, fo

    class Meta:
        indexes = [models.Index(fields=["policy_domain", "created"], name="dmarceval_domain_created")]


class OutgoingDMARCReport(models.Model):
    """A DMARC aggregate report we sent: at most one per (policy domain, day)."""

    policy_domain = models.CharField(max_length=255)
    day = models.DateField()
    report_id = models.CharField(max_length=255)
    recipients = models.JSONField(default=list)  # the addresses it went to
    skipped = models.JSONField(default=list)  # rua URIs not used, with why
    messages = models.PositiveIntegerField(default=0)
    queue_ids = models.JSONField(default=list)
    sent = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "policy_domain"]
        constraints = [models.UniqueConstraint(fields=["policy_domain", "day"], name="outgoing_dmarcreport_once")]

    def __str__(self) -> str:
        return f"DMARC report {self.report_id}"
