"""Report counters, on the default registry that moxweb/metrics.py serves (imported at
app start by ReportsConfig.ready, so every process exposes them)."""
from __future__ import annotations

from prometheus_client import Counter

# mox_tlsrptdb_session_total{type}: sessions reported in stored TLS reports, "success"
# or the failure's result-type (mox-v0.0.5 section 6.2).
TLSRPT_SESSIONS = Counter(
    "mox_tlsrptdb_session", "Sessions in stored TLS reports: success or the result type of failures.", ["type"])
# Per DMARC record, weighted by its message count (mox's dmarcdb metrics, section 6.1).
DMARC_POLICY_EVALUATED = Counter(
    "mox_dmarcdb_policy_evaluated", "Messages in stored DMARC reports by policy evaluation.",
    ["domain", "disposition", "dkim", "spf"])
DMARC_DKIM_RESULT = Counter(
    "mox_dmarcdb_dkim_result", "DKIM results in stored DMARC reports, per message.", ["result"])
DMARC_SPF_RESULT = Counter(
    "mox_dmarcdb_spf_result", "SPF results in stored DMARC reports, per message.", ["result"])
REPORTS_RECEIVED = Counter(
    "mox_reports_received",
    "Reports at a reporting address: stored, duplicate (stored before), invalid (not accepted).",
    ["kind", "result"])
