"""django-q2 entry points (Schedule func="autotls.tasks.renew")."""
from __future__ import annotations

from autotls.manager import renew_due


def renew() -> str:
    return renew_due().summary()
