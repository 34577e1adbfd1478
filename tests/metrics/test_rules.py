"""docs/prometheus.rules parses, names the alerts docs/metrics.md promises, and uses
only metrics that exist."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_rules_file_has_the_expected_groups_and_alerts():
    rules = yaml.safe_load((DOCS / "prometheus.rules").read_text())

    groups = {g["name"]: [r["alert"] for r in g["rules"]] for g in rules["groups"]}
    assert groups == {
        "moxweb-queue": ["MoxQueueGrowing", "MoxDeliveryPermanentFailures", "MoxDeliveryTemporaryFailuresHigh"],
        "moxweb-tls": ["MoxCertificateExpiringSoon", "MoxListenerCertificateExpiringSoon"],
        "moxweb-disk": ["MoxDiskFreeLow"],
        "moxweb-auth": ["MoxManyAuthenticationFailures", "MoxIncomingRejectionsHigh"],
    }
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
            assert re.fullmatch(r"\d+[smh]", rule["for"])
            assert rule["labels"]["severity"] in ("info", "warning", "critical")


def test_every_metric_in_the_rules_is_documented_and_registered():
    from prometheus_client import REGISTRY

    import moxweb.metrics  # noqa: F401 - registers the metrics

    text = (DOCS / "prometheus.rules").read_text()
    used = set(re.findall(r"\bmox_[a-z_]+", text))
    documented = set(re.findall(r"`(mox_[a-z_]+)`", (DOCS / "metrics.md").read_text()))
    registered = set(REGISTRY._names_to_collectors)  # noqa: SLF001 - no public listing
    assert used <= documented
    assert documented <= registered
