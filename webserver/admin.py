from django.contrib import admin

from webserver.models import WebDomainRedirect, WebHandler


@admin.register(WebDomainRedirect)
class WebDomainRedirectAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("from_domain", "to_domain")


@admin.register(WebHandler)
class WebHandlerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("position", "__str__", "domain", "path_regexp", "kind", "dont_redirect_plain_http")
    list_editable = ("position",)
    list_display_links = ("__str__",)
    fieldsets = (
        (None, {"fields": ("position", "log_name", "domain", "path_regexp", "dont_redirect_plain_http", "kind", "response_headers")}),
        ("Static files", {"fields": ("static_root", "static_strip_prefix", "static_list_files", "static_continue_not_found")}),
        ("Redirect", {"fields": ("redirect_base_url", "redirect_orig_path_regexp", "redirect_replace_path", "redirect_status_code")}),
        ("Forward", {"fields": ("forward_url", "forward_strip_path")}),
    )
