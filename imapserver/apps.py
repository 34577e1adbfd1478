from __future__ import annotations

from django.apps import AppConfig


class ImapserverConfig(AppConfig):
    name = "imapserver"
    verbose_name = "IMAP server"
