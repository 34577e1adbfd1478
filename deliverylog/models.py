"""The recent outgoing delivery attempts, with their results, for the admin console
(queue rows are removed once delivered or failed, so they cannot show this)."""
from __future__ import annotations

from django.db import models


class DeliveryAttempt(models.Model):
    class Result(models.TextChoices):
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed permanently"
        RETRY = "retry", "failed, will retry"

    time = models.DateTimeField(db_index=True)
    queue_id = models.BigIntegerField()
    attempt = models.PositiveIntegerField()
    sender = models.CharField(max_length=512, blank=True, default="")
    recipient = models.CharField(max_length=512)
    result = models.CharField(max_length=16, choices=Result.choices)
    remote_mta = models.CharField(max_length=255, blank=True, default="")
    transport = models.CharField(max_length=100, blank=True, default="")
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-time", "-id"]
