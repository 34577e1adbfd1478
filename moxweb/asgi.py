"""ASGI entry point; runmail serves it with uvicorn inside the mail listeners' loop.
The web server of webserver/ (domain redirects, web handlers) sits in front of Django."""
from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moxweb.settings")
django_application = get_asgi_application()

from webserver.asgi import WebserverApp  # noqa: E402 - needs the app registry ready

application = WebserverApp(django_application)
