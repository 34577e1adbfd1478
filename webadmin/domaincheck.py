"""Run the DNS check of one configured domain: shared by the console page and the
`dnscheck` command, so both check exactly the same things."""
from __future__ import annotations

from asgiref.sync import async_to_sync
from django.conf import settings

from accounts import actions
from accounts.models import DKIMKey, Domain
from mailqueue.transports import verified_context
from moxweb.resolver import get_resolver
from webadmin import dnscheck
from webadmin.dnsrecords import dkim_txt
from wellknown.mtasts import current_policy


def check_input(domain: Domain) -> dnscheck.CheckInput:
    policy = current_policy()
    return dnscheck.CheckInput(
        domain=domain.ascii,
        hostname=actions.domain_forms_safe(settings.MOX_HOSTNAME),
        listen_ips=tuple(settings.MOX_LISTEN_IPS),
        dkim=tuple((k.selector, dkim_txt(k)) for k in DKIMKey.objects.filter(domain=domain).order_by("selector")),
        mtasts_policy_id=policy.policy_id(),
        mtasts_policy_text=policy.text(),
        https_port=settings.MOX_MTASTS_PORT,
        imaps_port=settings.MOX_IMAPS_PORT,
        submissions_port=settings.MOX_SUBMISSIONS_PORT,
        smtp_port=settings.MOX_QUEUE_SMTP_PORT,
    )


def run_check(domain: Domain) -> list[dnscheck.Section]:
    srv = dnscheck.srv_lookup_for(settings.MOX_DNS_RESOLVER)
    # Certificates verified as the queue verifies them (with MOX_QUEUE_CA_FILE's extra CAs).
    return async_to_sync(dnscheck.check_domain)(get_resolver(), srv, check_input(domain), tls_context=verified_context())
