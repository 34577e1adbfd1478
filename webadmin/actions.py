"""State changes that belong to the admin console itself."""
from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

log = logging.getLogger(__name__)

ADMIN_USERNAME = "admin"
MIN_PASSWORD_LENGTH = 8  # as mox's setadminpassword


class AdminPasswordError(ValueError):
    pass


@transaction.atomic
def set_admin_password(password: str) -> AbstractBaseUser:
    """Create or update the "admin" user (staff and superuser) with this password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminPasswordError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=ADMIN_USERNAME)
    user.is_staff = True
    user.is_superuser = True
    user.is_active = True
    user.set_password(password)
    user.save()
    log.info("admin password set")
    return user
