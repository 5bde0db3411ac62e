"""Bad specs fail before any request, naming the file, the line, the monitor's key and the field."""

from __future__ import annotations

import pytest

from airflow_provider_monitoring.as_code import SpecError, load_spec
from airflow_provider_monitoring.as_code.runner import plan_spec
from tests.as_code.specs import datafold, diligent, encrata, write_spec

BAD = {
    "unknown vendor": (
        [encrata(0), {"key": "pager", "vendor": "pagerduty", "name": "x"}],
        "pager", "vendor", "unknown vendor 'pagerduty'",
    ),
    "unknown field": (
        [{**encrata(0), "schedule": "weekly"}],
        "domains-0", "schedule", "unknown field 'schedule' for a encrata monitor",
    ),
    "duplicate key": (
        [encrata(0), {**diligent(0), "key": "domains-0"}],
        "domains-0", "key", "duplicate key",
    ),
    "invalid Encrata value": (
        [{**encrata(0), "frequency": "daily"}],
        "domains-0", "frequency", "unknown frequency 'daily'",
    ),
    "invalid Diligent value": (
        [{**diligent(3), "checks": ["non_operational_website", "made_up_check"]}],
        "merchant-3", "checks", "made_up_check",
    ),
    "invalid Datafold value": (
        [{**datafold(0), "schedule": {"interval": {"every": "week"}}}],
        "quality-0", "schedule", "schedule.interval.every",
    ),
    "Datafold type missing": (
        [{key: value for key, value in datafold(1).items() if key != "type"}],
        "quality-1", "type", "type is required",
    ),
    "two monitors of one website": (
        [diligent(1), {**diligent(1), "key": "merchant-copy", "website": "http://MERCHANT1.example.net/"}],
        "merchant-copy", "website", "is the site of monitor 'merchant-1'",
    ),
    "a hand-written marker": (
        [{**encrata(2), "name": "Domains [as-code:team-a/other]"}],
        "domains-2", "name", "must not contain 'as-code:'",
    ),
    # The marker follows these two: a padded one would never read back equal, so every plan would
    # rename the Encrata monitor, or replace the Diligent one (a new paid run each time).
    "a name padded with a space": (
        [{**encrata(2), "name": "Domains 2 "}],
        "domains-2", "name", "must not begin or end with a space",
    ),
    "an external id padded with a space": (
        [{**diligent(3), "external_id": " merchant-3"}],
        "merchant-3", "external_id", "must not begin or end with a space",
    ),
    # The field named is the one written, not the one the message says to use instead.
    "an email monitor given targets": (
        [{**encrata(4), "monitor_type": "email"}],
        "domains-4", "targets", "takes its addresses in 'emails', not 'targets'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_spec_fails_before_any_request_naming_file_key_and_field(monitoring_sandbox, tmp_path, case):
    monitors, key, field, complaint = BAD[case]
    path = write_spec(tmp_path / "monitors.yaml", [datafold(8), datafold(9), *monitors])
    with pytest.raises(SpecError) as raised:
        plan_spec(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:") and f"monitor {key!r}" in message, message
    assert f"field {field!r}" in message and complaint in message, message
    assert (raised.value.key, raised.value.field, raised.value.path) == (key, field, str(path))
    assert monitoring_sandbox.requests() == []


def test_errors_give_the_line_of_the_monitor(tmp_path):
    path = tmp_path / "monitors.yaml"
    path.write_text("monitors:\n  - key: a\n    vendor: encrata\n    name: A\n    emails: [x@example.com]\n"
                    "  - key: b\n    vendor: encrata\n    name: B\n    frequency: hourly\n    emails: [y@example.com]\n")
    with pytest.raises(SpecError, match=r"monitors\.yaml:6: monitor 'b': field 'frequency'"):
        load_spec(path)


def test_a_field_written_twice_in_one_monitor_is_refused_with_its_line(tmp_path):
    path = tmp_path / "monitors.yaml"
    path.write_text("monitors:\n  - key: a\n    vendor: encrata\n    name: A\n    name: B\n    emails: [x@example.com]\n")
    with pytest.raises(SpecError, match=r"monitors\.yaml:5: .*field 'name' is written twice \(first on line 4\)"):
        load_spec(path)


def test_yaml_that_does_not_parse_names_the_line(tmp_path):
    path = tmp_path / "monitors.yaml"
    path.write_text("monitors:\n  - key: a\n    vendor: [encrata\n")
    with pytest.raises(SpecError, match=r"monitors\.yaml:\d+: not valid YAML"):
        load_spec(path)


def test_a_missing_file_and_an_unknown_top_level_field_are_named(tmp_path):
    with pytest.raises(SpecError, match="cannot read the spec"):
        load_spec(tmp_path / "absent.yaml")
    path = tmp_path / "monitors.yaml"
    path.write_text("namespace: team-a\nmonitor: []\n")
    with pytest.raises(SpecError, match="unknown top-level field.*'monitor'"):
        load_spec(path)


def test_a_good_spec_keeps_file_order_and_lists_the_vendors_it_manages(tmp_path):
    spec = load_spec(write_spec(tmp_path / "monitors.yaml", [datafold(0), encrata(0)], vendors=["diligent"]))
    assert [m.key for m in spec.monitors] == ["quality-0", "domains-0"]
    assert spec.vendors == ("encrata", "diligent", "datafold") and spec.namespace == "team-a"
    # A YAML date is handed to the checks as ISO 8601 text.
    dated = load_spec(write_spec(tmp_path / "dated.yaml", [{**diligent(0), "expires_at": "2099-01-01"}]))
    assert dated.monitors[0].fields["expires_at"] == "2099-01-01"
