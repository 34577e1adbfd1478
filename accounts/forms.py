from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from django import forms

from mailcore.junk import Params


class AccountLoginForm(forms.Form):
    email = forms.CharField(max_length=512, label="Email address")
    password = forms.CharField(widget=forms.PasswordInput, label="Password")


class PasswordChangeForm(forms.Form):
    current = forms.CharField(widget=forms.PasswordInput, label="Current password")
    new = forms.CharField(widget=forms.PasswordInput, label="New password", min_length=8)
    repeat = forms.CharField(widget=forms.PasswordInput, label="Repeat new password")

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("new") and data.get("repeat") is not None and data["new"] != data["repeat"]:
            self.add_error("repeat", "The two new passwords differ.")
        return data


class RulesetForm(forms.Form):
    """One ruleset (mox Destinations.Rulesets), validated by mailstore.rulesets.
    `addresses` are the (value, label) choices of the account's addresses for the
    ruleset's scope."""

    address = forms.ChoiceField(
        required=False, label="Address",
        help_text="Apply only to mail for this address of the account (mox keeps rulesets per address).",
    )
    smtp_mail_from_regexp = forms.CharField(
        required=False, label="SMTP MAIL FROM regexp",
        help_text=r"Matched against the envelope sender, e.g. ^.*@lists\.example\.org$",
    )
    verified_domain = forms.CharField(
        required=False, label="Verified domain",
        help_text="Matches when SPF or DKIM verified this domain (or one below it) for the message.",
    )
    headers_regexp = forms.CharField(
        required=False, label="Header regexps", widget=forms.Textarea(attrs={"rows": 3}),
        help_text=r"One per line: header name regexp, a colon, value regexp; lower case. E.g. ^list-id$: <dev\.lists\.example\.org>",
    )
    list_allow_domain = forms.CharField(
        required=False, label="List allow domain",
        help_text="Mail from this mailing list domain (SPF or DKIM verified) skips the junk checks.",
    )
    is_forward = forms.BooleanField(
        required=False, label="Forwarded by a server we trust",
        help_text=r"For mail another mail server of yours forwards here. Needs the SMTP MAIL FROM regexp (the "
                  r"forwarder's envelope address, e.g. ^you(|\+.*)@forward\.example$) and the verified domain (the "
                  "forwarder's). Matching mail is not refused for failing the sender's DMARC policy, and the "
                  "forwarder's IP address, EHLO and MAIL FROM domains and its DKIM domain are not used to judge it or "
                  "later mail; the junk filter still judges it. Not together with a list allow domain.",
    )
    accept_rejects_to_mailbox = forms.CharField(
        required=False, max_length=1024, label="Accept rejects into",
        widget=forms.TextInput(attrs={"list": "mailboxes"}),
        help_text="Matching mail that would be refused as junk (or for DMARC) is accepted into this mailbox instead, "
                  "marked read, with that mailbox's automatic junk flags; e.g. for a mailing list that unsubscribes "
                  "you after refusals. Not Inbox. This mailbox is not cleaned up automatically unless it is your "
                  "Rejects mailbox.",
    )
    mailbox = forms.CharField(max_length=1024, label="Mailbox", initial="Inbox", widget=forms.TextInput(attrs={"list": "mailboxes"}))
    version = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, addresses: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "All addresses"), *addresses]
        current = self.initial.get("address") or ""
        if current and current not in dict(choices):
            # A ruleset for an address the account no longer has stays editable.
            choices.append((current, f"{current} (no longer an address of this account)"))
        self.fields["address"].choices = choices  # type: ignore[attr-defined]

    @staticmethod
    def headers_text(headers: dict[str, str]) -> str:
        return "\n".join(f"{k}: {v}" for k, v in headers.items())

    @classmethod
    def initial_for(cls, ruleset: dict[str, Any], version: str) -> dict[str, Any]:
        return {**ruleset, "headers_regexp": cls.headers_text(ruleset.get("headers_regexp") or {}), "version": version}

    def clean_headers_regexp(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for n, line in enumerate(self.cleaned_data["headers_regexp"].splitlines(), 1):
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            if not colon or not name.strip():
                raise forms.ValidationError(f"Line {n}: write header name regexp, a colon, then the value regexp.")
            out[name.strip()] = value.strip()
        return out

    def ruleset(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "version" and v}


class JunkFilterForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Junk filter on")
    threshold = forms.FloatField(min_value=0, max_value=1, label="Threshold", help_text="Messages with a junk probability above this are junk (mox default 0.95).")
    onegrams = forms.BooleanField(required=False, label="Count single words")
    twograms = forms.BooleanField(required=False, label="Count pairs of words")
    threegrams = forms.BooleanField(required=False, label="Count runs of three words")
    max_power = forms.FloatField(min_value=0, max_value=0.5, label="Max power", help_text="A word's junk probability stays within [max power, 1 - max power].")
    top_words = forms.IntegerField(min_value=1, max_value=1000, label="Top words", help_text="How many of the most telling words are combined.")
    ignore_words = forms.FloatField(min_value=0, max_value=0.5, label="Ignore words", help_text="Words this close to 0.5 are left out.")
    rare_words = forms.IntegerField(min_value=0, max_value=1000, label="Rare words", help_text="Words seen at most this often count less.")
    auto_enabled = forms.BooleanField(required=False, label="Automatic junk flags")
    junk_mailbox_regexp = forms.CharField(required=False, label="Junk mailbox regexp", help_text="Mail delivered or moved here is marked $Junk.")
    neutral_mailbox_regexp = forms.CharField(required=False, label="Neutral mailbox regexp", help_text="Mail here is marked neither.")
    not_junk_mailbox_regexp = forms.CharField(required=False, label="Not-junk mailbox regexp", help_text="Mail here is marked $NotJunk.")
    keep_rejects = forms.BooleanField(
        required=False, label="Keep rejects",
        help_text="Refused mail is kept in your Rejects mailbox so you can find mail refused by mistake; it is removed "
                  "after 14 days, and no more is kept once 1000 are there. Check this to keep it all, e.g. to train "
                  "the filter with it later; then empty the mailbox yourself.",
    )

    PARAMS = ("threshold", "onegrams", "twograms", "threegrams", "max_power", "top_words", "ignore_words", "rare_words")
    AUTO = ("junk_mailbox_regexp", "neutral_mailbox_regexp", "not_junk_mailbox_regexp")

    def _clean_regexp(self, name: str) -> str:
        value = self.cleaned_data[name]
        try:
            re.compile(value)
        except re.error as exc:
            raise forms.ValidationError(f"Not a valid regular expression: {exc}.") from None
        return value

    def clean_junk_mailbox_regexp(self) -> str:
        return self._clean_regexp("junk_mailbox_regexp")

    def clean_neutral_mailbox_regexp(self) -> str:
        return self._clean_regexp("neutral_mailbox_regexp")

    def clean_not_junk_mailbox_regexp(self) -> str:
        return self._clean_regexp("not_junk_mailbox_regexp")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("enabled") and not (data.get("onegrams") or data.get("twograms") or data.get("threegrams")):
            self.add_error("onegrams", "Count at least one kind of word combination.")
        return data

    def params(self) -> Params | None:
        if not self.cleaned_data["enabled"]:
            return None
        return Params(**{k: self.cleaned_data[k] for k in self.PARAMS})

    def automatic_flags(self) -> dict[str, Any]:
        return {"enabled": self.cleaned_data["auto_enabled"], **{k: self.cleaned_data[k] for k in self.AUTO}}

    @classmethod
    def initial_for(cls, junk_filter: dict[str, Any], automatic: dict[str, Any], keep_rejects: bool = False) -> dict[str, Any]:
        params = asdict(Params.from_dict(junk_filter or {}))
        return {"enabled": bool(junk_filter), **params, "auto_enabled": bool(automatic.get("enabled")),
                **{k: automatic.get(k, "") for k in cls.AUTO}, "keep_rejects": keep_rejects}


class ImportForm(forms.Form):
    file = forms.FileField(label="File", help_text="An mbox file, or a .zip or .tgz of mbox files or maildirs.")
    format = forms.ChoiceField(choices=[("mbox", "mbox"), ("maildir", "maildir")], label="Format")
    mailbox = forms.CharField(
        required=False, max_length=1024, label="Into mailbox",
        help_text="Empty: a single mbox file goes to the mailbox its name says (Sent.mbox to Sent); the mailboxes "
        "of an archive keep their names, with Sent, Junk, Trash and their other spellings mapped to ours. "
        "Given: everything goes into (or below) this mailbox.",
    )


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=[("mbox", "mbox"), ("maildir", "maildir")], label="Format")
    archive = forms.ChoiceField(choices=[("zip", "zip"), ("tgz", "tgz (tar.gz)")], label="Archive")
    mailbox = forms.ChoiceField(required=False, label="Mailbox")

    def __init__(self, *args: Any, mailboxes: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mailbox"].choices = [("", "All mailboxes"), *((m, m) for m in mailboxes)]
