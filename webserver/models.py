"""mox's small web server (reference 1.3.8): whole-domain redirects, and web handlers
that serve static files, redirect, or forward to another web server, matched by
domain and path in order."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models


def _domain(value: str) -> str:
    value = value.strip().rstrip(".").lower()
    try:
        return value.encode("idna").decode("ascii")
    except UnicodeError as e:
        raise ValidationError(f"{value!r} is not a valid domain name") from e


class WebDomainRedirect(models.Model):
    """Every request for `from_domain` is redirected (308) to https://`to_domain`, same
    path and query (mox WebDomainRedirects)."""

    from_domain = models.CharField(max_length=255, unique=True, help_text="e.g. www.example.com")
    to_domain = models.CharField(max_length=255, help_text="e.g. example.com")

    class Meta:
        ordering = ["from_domain"]

    def __str__(self) -> str:
        return f"{self.from_domain} -> {self.to_domain}"

    def clean(self) -> None:
        self.from_domain = _domain(self.from_domain)
        self.to_domain = _domain(self.to_domain)
        if self.from_domain == self.to_domain:
            raise ValidationError("a domain cannot redirect to itself")


class WebHandler(models.Model):
    """One of mox's WebHandlers: the first whose domain and path regexp match a request
    handles it (position orders them). Exactly one kind: static, redirect or forward."""

    class Kind(models.TextChoices):
        STATIC = "static", "serve static files"
        REDIRECT = "redirect", "redirect"
        FORWARD = "forward", "forward (reverse proxy)"

    position = models.PositiveIntegerField(default=0, help_text="handlers are tried in increasing position")
    log_name = models.CharField(max_length=100, blank=True, help_text="name in logs and metrics")
    domain = models.CharField(max_length=255, help_text="the Host the request is for, e.g. example.com")
    path_regexp = models.CharField(
        max_length=500, default="^/",
        help_text="regular expression matched at the start of the path; must start with ^",
    )
    dont_redirect_plain_http = models.BooleanField(
        default=False, help_text="serve plain HTTP too, instead of redirecting it (308) to HTTPS",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    response_headers = models.JSONField(default=dict, blank=True, help_text='headers to add, e.g. {"Cache-Control": "max-age=3600"}')

    static_root = models.CharField(max_length=1000, blank=True, help_text="directory to serve files from")
    static_strip_prefix = models.CharField(max_length=500, blank=True, help_text="path prefix removed before looking up the file")
    static_list_files = models.BooleanField(default=False, help_text="list a directory without index.html (else 403)")
    static_continue_not_found = models.BooleanField(
        default=False, help_text="when the file does not exist, try the next handlers (like try_files)",
    )

    redirect_base_url = models.CharField(
        max_length=1000, blank=True,
        help_text="scheme and host to redirect to, e.g. https://example.org (//host keeps the scheme)",
    )
    redirect_orig_path_regexp = models.CharField(max_length=500, blank=True, help_text="path to rewrite (404 when it does not match)")
    redirect_replace_path = models.CharField(max_length=1000, blank=True, help_text=r"replacement, \1 for the first group")
    redirect_status_code = models.PositiveIntegerField(default=308, help_text="301, 302, 303, 307 or 308")

    forward_url = models.CharField(max_length=1000, blank=True, help_text="e.g. http://127.0.0.1:8123/base")
    forward_strip_path = models.BooleanField(default=False, help_text="remove the matched path before forwarding")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.log_name or f"{self.domain} {self.path_regexp} ({self.kind})"

    @property
    def name(self) -> str:
        return self.log_name or str(self.pk)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        try:
            self.domain = _domain(self.domain)
        except ValidationError as e:
            errors["domain"] = e.messages[0]
        if not self.path_regexp.startswith("^"):
            errors["path_regexp"] = "must start with ^ (it matches from the start of the path)"
        for field in ("path_regexp", "redirect_orig_path_regexp"):
            try:
                re.compile(getattr(self, field))
            except re.error as e:
                errors[field] = f"not a valid regular expression: {e}"
        if not isinstance(self.response_headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and "\n" not in k + v and "\r" not in k + v
            for k, v in (self.response_headers or {}).items()
        ):
            errors["response_headers"] = 'a JSON object of header names to string values, e.g. {"X-A": "b"}'
        if self.kind == self.Kind.STATIC and not self.static_root:
            errors["static_root"] = "a static handler needs the directory to serve"
        if self.kind == self.Kind.REDIRECT:
            if not self.redirect_base_url and not (self.redirect_orig_path_regexp and self.redirect_replace_path):
                errors["redirect_base_url"] = "set a base URL, or a path regexp with its replacement, or both"
            if self.redirect_base_url:
                u = urlsplit(self.redirect_base_url)
                if not u.netloc or u.path not in ("", "/") or u.scheme not in ("", "http", "https"):
                    errors["redirect_base_url"] = "scheme and host only, e.g. https://example.org or //example.org"
            if self.redirect_status_code not in (301, 302, 303, 307, 308):
                errors["redirect_status_code"] = "one of 301, 302, 303, 307, 308"
        if self.kind == self.Kind.FORWARD:
            u = urlsplit(self.forward_url)
            if u.scheme not in ("http", "https") or not u.hostname:
                errors["forward_url"] = "an http:// or https:// URL, e.g. http://127.0.0.1:8123/"
        if errors:
            raise ValidationError(errors)
