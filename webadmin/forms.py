from __future__ import annotations

from django import forms

from accounts.models import Account
from mailqueue.models import Route, Transport


class DomainAddForm(forms.Form):
    name = forms.CharField(max_length=255, label="Domain")
    catchall_separator = forms.CharField(
        max_length=8, required=False, label="Catchall separator",
        help_text='For example "+": user+tag@domain is delivered to user@domain.',
    )


class AccountCreateForm(forms.Form):
    name = forms.CharField(max_length=255, label="Account name")
    address = forms.CharField(max_length=512, label="First address")
    password = forms.CharField(
        widget=forms.PasswordInput, required=False, label="Password",
        help_text="At least 8 characters; leave empty to set it later.",
    )


class SetPasswordForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, label="New password", min_length=8)


class AddressAddForm(forms.Form):
    address = forms.CharField(
        max_length=512, label="Address", help_text="localpart@domain, or @domain for the domain's catchall."
    )
    mailbox = forms.CharField(max_length=255, initial="Inbox", label="Mailbox")


class AccountLimitsForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ["max_outgoing_messages_per_day", "max_first_time_recipients_per_day", "quota_bytes", "first_time_sender_delay"]
        labels = {
            "max_outgoing_messages_per_day": "Max outgoing messages per day",
            "max_first_time_recipients_per_day": "Max first-time recipients per day",
            "quota_bytes": "Quota (bytes)",
            "first_time_sender_delay": "Delay first-time senders",
        }
        help_texts = {
            "quota_bytes": "Total size of the account's messages; 0 means no quota.",
            "first_time_sender_delay": "Incoming mail from a sender never seen before waits 15 seconds (slows spammers).",
        }

    def clean_quota_bytes(self) -> int:
        value = int(self.cleaned_data["quota_bytes"])
        if value < 0:
            raise forms.ValidationError("The quota cannot be negative (0 means no quota).")
        return value


def _domain_list(value: str) -> list[str]:
    return [d.strip() for d in value.replace(",", " ").split() if d.strip()]


class WordListField(forms.CharField):
    """A JSON list of words (domains, IPs, mechanisms) edited as text separated by commas or spaces."""

    def prepare_value(self, value: object) -> object:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: object) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return value
        return _domain_list(str(value or ""))


class RouteForm(forms.ModelForm):
    from_domains = WordListField(
        required=False, label="From domains",
        help_text='Sender domains this route applies to; ".example.com" includes subdomains; empty: any.',
    )
    to_domains = WordListField(
        required=False, label="To domains",
        help_text='Recipient domains this route applies to; ".example.com" includes subdomains; empty: any.',
    )

    class Meta:
        model = Route
        fields = ["order", "account", "domain", "from_domains", "to_domains", "minimum_attempts", "transport"]
        help_texts = {
            "account": "Only for this account's messages; routes of an account are tried first.",
            "domain": "Only for this sender domain's messages; tried after account routes, before global ones.",
            "minimum_attempts": "Use this route from this attempt on (0: from the first).",
        }

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("account") and data.get("domain"):
            raise forms.ValidationError("A route is for an account or a domain or global, not both.")
        return data


class TransportForm(forms.ModelForm):
    auth_mechanisms = WordListField(
        required=False, label="Authentication mechanisms",
        help_text="E.g. SCRAM-SHA-256, CRAM-MD5, PLAIN; empty: the best the relay offers.",
    )
    remote_ips = WordListField(required=False, label="Remote IPs", help_text="SOCKS: the IPs our mail appears from.")
    auth_password = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), label="Password",
        help_text="Leave empty to keep the current password.",
    )

    class Meta:
        model = Transport
        fields = [
            "name", "kind", "host", "port", "auth_username", "auth_password", "auth_mechanisms",
            "no_starttls", "verify_tls", "socks_address", "remote_ips", "socks_hostname",
        ]
        labels = {
            "auth_username": "Username", "no_starttls": "No STARTTLS", "verify_tls": "Verify TLS certificate",
            "socks_address": "SOCKS proxy address", "socks_hostname": "SOCKS EHLO hostname",
        }
        help_texts = {
            "host": "The relay's host name (not for direct and socks).",
            "port": "Empty: the kind's usual port.",
            "no_starttls": "SMTP relay: do not even try STARTTLS.",
            "socks_address": "host:port of the SOCKS5 proxy.",
            "socks_hostname": "The name to greet with in EHLO through the proxy.",
        }

    def clean_auth_mechanisms(self) -> list[str]:
        return [m.upper() for m in self.cleaned_data["auth_mechanisms"]]

    def clean_auth_password(self) -> str:
        value = self.cleaned_data["auth_password"]
        if not value and self.instance.pk:
            return self.instance.auth_password
        return value
