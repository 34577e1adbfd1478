"""A saved or deleted redirect or handler applies to the next request in this process
(other processes pick it up within `config.CACHE_SECONDS`)."""
from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from webserver import config
from webserver.models import WebDomainRedirect, WebHandler


@receiver([post_save, post_delete], sender=WebHandler)
@receiver([post_save, post_delete], sender=WebDomainRedirect)
def _changed(sender: Any, **kwargs: Any) -> None:
    config.invalidate()
