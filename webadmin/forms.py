from __future__ import annotations

from django import forms


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
