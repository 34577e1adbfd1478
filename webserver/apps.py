from django.apps import AppConfig


class WebserverConfig(AppConfig):
    name = "webserver"
    verbose_name = "Web server (domain redirects and web handlers)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from webserver import signals  # noqa: F401 - connects the cache invalidation
