from __future__ import annotations

from django.apps import AppConfig


class MailqueueConfig(AppConfig):
    name = "mailqueue"
    verbose_name = "Outgoing queue"
