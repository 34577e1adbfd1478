from __future__ import annotations

from django.apps import AppConfig


class DeliverylogConfig(AppConfig):
    name = "deliverylog"
    verbose_name = "Recent delivery attempts"
