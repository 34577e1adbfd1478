from __future__ import annotations

from django import forms

from accounts.models import Account
from reports.models import DEFAULT_MAILBOX, ReportKind

DEFAULT_LOCALPART = {ReportKind.dmarc: "dmarc-reports", ReportKind.tlsrpt: "tls-reports"}


class ReportingAddressForm(forms.Form):
    """One kind of reporting address of a domain (mox's domain DMARC/TLSRPT config)."""

    kind = forms.ChoiceField(choices=ReportKind.choices, widget=forms.HiddenInput)
    localpart = forms.CharField(label="Localpart", max_length=255)
    # A name, not a choice list: a page with a thousand accounts would list them all in
    # each form.
    account = forms.CharField(label="Account", max_length=255, help_text="The account's name.")
    mailbox = forms.CharField(label="Mailbox", max_length=255, required=False,
                              help_text="Default: DMARC or TLSRPT by kind.")

    def clean_account(self) -> Account:
        name = self.cleaned_data["account"].strip()
        account = Account.objects.filter(name=name).first()
        if account is None:
            raise forms.ValidationError(f"no account named {name!r}")
        return account

    @classmethod
    def for_kind(cls, kind: ReportKind, current: object | None, data: object = None) -> ReportingAddressForm:
        initial = {"kind": kind.value, "localpart": DEFAULT_LOCALPART[kind], "mailbox": DEFAULT_MAILBOX[kind]}
        if current is not None:
            initial.update(localpart=current.localpart, account=current.account.name,  # type: ignore[attr-defined]
                           mailbox=current.mailbox)  # type: ignore[attr-defined]
        return cls(data, prefix=kind.value, initial=initial)
