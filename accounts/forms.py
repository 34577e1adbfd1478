from __future__ import annotations

from django import forms


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
