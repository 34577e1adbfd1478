"""SMTP TLS reports (RFC 8460 section 4, the JSON report; section 5.3 the message).

`parse_report_json(data)` reads a report, `parse_report_message(message)` finds it in a
report message: a part of type application/tlsrpt+json or application/tlsrpt+gzip
(RFC 8460 section 6.4). Decompressed reports are limited to 20 MiB.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from mailcore.reports import mime
from mailcore.reports.errors import ParseError

JSON_TYPE = "application/tlsrpt+json"
GZIP_TYPE = "application/tlsrpt+gzip"

# RFC 8460 section 4.3 and 4.3.1-4.3.2.
RESULT_TYPES = (
    "starttls-not-supported", "certificate-host-mismatch", "certificate-expired", "certificate-not-trusted",
    "validation-failure", "tlsa-invalid", "dnssec-invalid", "dane-required", "sts-policy-fetch-error",
    "sts-policy-invalid", "sts-webpki-invalid",
)


@dataclass(frozen=True)
class PolicyDetails:
    policy_type: str  # "sts", "tlsa" or "no-policy-found" (RFC 8460 section 4.4)
    policy_domain: str  # lower-case, no trailing dot
    policy_strings: tuple[str, ...] = ()
    mx_host: tuple[str, ...] = ()


@dataclass(frozen=True)
class FailureDetails:
    result_type: str
    failed_session_count: int
    sending_mta_ip: str = ""
    receiving_mx_hostname: str = ""
    receiving_mx_helo: str = ""
    receiving_ip: str = ""
    additional_information: str = ""
    failure_reason_code: str = ""


@dataclass(frozen=True)
class PolicyResult:
    policy: PolicyDetails
    successful: int  # total-successful-session-count
    failed: int  # total-failure-session-count
    failure_details: tuple[FailureDetails, ...] = ()


@dataclass(frozen=True)
class Report:
    organization_name: str
    report_id: str
    start: datetime  # UTC
    end: datetime
    contact_info: str
    policies: tuple[PolicyResult, ...]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["start"], d["end"] = self.start.isoformat(), self.end.isoformat()
        return json.loads(json.dumps(d))

    def policy_domains(self) -> list[str]:
        return [p.policy.policy_domain for p in self.policies]


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError(f"{path}: expected an object")
    return value


def _text(value: str, path: str) -> str:
    """Refuse what no database stores as text: NUL and lone surrogates from \\u escapes."""
    if "\x00" in value:
        raise ParseError(f"{path}: NUL character in string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ParseError(f"{path}: invalid unicode in string") from e
    return value


def _str(obj: dict[str, Any], key: str, path: str, required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ParseError(f"{path}/{key}: {'missing' if value is None else 'expected a string'}")
    return _text(value, f"{path}/{key}")


def _count(obj: dict[str, Any], key: str, path: str) -> int:
    value = obj.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2**63 - 1:
        raise ParseError(f"{path}/{key}: expected a non-negative integer")
    return value


def _strings(obj: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
    value = obj.get(key) or []  # optional: absent or null is empty
    if isinstance(value, str):  # some reporters send a single string for a list
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ParseError(f"{path}/{key}: expected a list of strings")
    return tuple(_text(v, f"{path}/{key}") for v in value)


def parse_datetime(value: str, path: str) -> datetime:
    """RFC 3339 date-time (RFC 8460 section 4.4). Some reporters (Microsoft) leave out
    the time zone; we read those as UTC, as mox works around it."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as e:
        raise ParseError(f"{path}: invalid date-time {value[:40]!r}") from e
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def parse_report_json(data: bytes) -> Report:
    if len(data) > mime.MAX_REPORT_SIZE:
        raise ParseError(f"report larger than {mime.MAX_REPORT_SIZE} bytes")
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ParseError(f"malformed JSON: {e}") from e
    top = _obj(doc, "report")
    dr = _obj(top.get("date-range"), "report/date-range")
    start = parse_datetime(_str(dr, "start-datetime", "report/date-range"), "report/date-range/start-datetime")
    end = parse_datetime(_str(dr, "end-datetime", "report/date-range"), "report/date-range/end-datetime")
    if end < start:
        raise ParseError("report/date-range: end before start")
    policies_raw = top.get("policies")
    if not isinstance(policies_raw, list) or not policies_raw:
        raise ParseError("report/policies: expected a non-empty list")
    policies = tuple(_policy_result(p, f"report/policies[{i}]") for i, p in enumerate(policies_raw))
    org = _str(top, "organization-name", "report")
    report_id = _str(top, "report-id", "report")
    if not org or not report_id:
        raise ParseError("report: empty organization-name or report-id")
    return Report(org, report_id, start, end, _str(top, "contact-info", "report", required=False), policies)


def _policy_result(value: Any, path: str) -> PolicyResult:
    pr = _obj(value, path)
    pol = _obj(pr.get("policy"), f"{path}/policy")
    policy_type = _str(pol, "policy-type", f"{path}/policy")
    if policy_type not in ("sts", "tlsa", "no-policy-found"):
        raise ParseError(f"{path}/policy/policy-type: unknown {policy_type[:40]!r}")
    domain = _str(pol, "policy-domain", f"{path}/policy").strip().lower().rstrip(".")
    if not domain:
        raise ParseError(f"{path}/policy/policy-domain: empty")
    details = PolicyDetails(
        policy_type, domain, _strings(pol, "policy-string", f"{path}/policy"),
        _strings(pol, "mx-host", f"{path}/policy"),
    )
    summary = _obj(pr.get("summary"), f"{path}/summary")
    failures_raw = pr.get("failure-details") or []
    if not isinstance(failures_raw, list):
        raise ParseError(f"{path}/failure-details: expected a list")
    failures = tuple(_failure(f, f"{path}/failure-details[{i}]") for i, f in enumerate(failures_raw))
    return PolicyResult(
        details,
        _count(summary, "total-successful-session-count", f"{path}/summary"),
        _count(summary, "total-failure-session-count", f"{path}/summary"),
        failures,
    )


def _failure(value: Any, path: str) -> FailureDetails:
    f = _obj(value, path)
    return FailureDetails(
        result_type=_str(f, "result-type", path),
        failed_session_count=_count(f, "failed-session-count", path),
        sending_mta_ip=_str(f, "sending-mta-ip", path, required=False),
        receiving_mx_hostname=_str(f, "receiving-mx-hostname", path, required=False),
        receiving_mx_helo=_str(f, "receiving-mx-helo", path, required=False),
        receiving_ip=_str(f, "receiving-ip", path, required=False),
        additional_information=_str(f, "additional-information", path, required=False),
        failure_reason_code=_str(f, "failure-reason-code", path, required=False),
    )


def parse_report_message(message: bytes) -> Report:
    """The TLS report carried by a report message (RFC 8460 section 5.3)."""
    first_error: ParseError | None = None
    for part in mime.parts(message):
        if part.media_type not in (JSON_TYPE, GZIP_TYPE):
            continue
        try:
            body = part.decoded()
            if part.media_type == GZIP_TYPE:
                body = mime.gunzip(body)
            return parse_report_json(body)
        except ParseError as e:
            first_error = first_error or e
    if first_error is not None:
        raise first_error
    raise ParseError("no TLS report found in message (no application/tlsrpt+json or +gzip part)")


def tlsrpt_records(txts: list[str]) -> list[str]:
    """RFC 8460 section 3: the TXT records at _smtp._tls.<domain> that are TLSRPT
    records (a domain must have exactly one)."""
    return [t for t in txts if t.replace(" ", "").startswith("v=TLSRPTv1")]


def record_rua(record: str) -> list[str]:
    """The rua= URIs of a TLSRPT record, in order; [] without rua."""
    for part in record.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "rua":
            return [u.strip() for u in value.split(",") if u.strip()]
    return []
