"""Diligent operators against the sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_monitoring._http.errors import ConfigurationError
from airflow_provider_monitoring.hooks.diligent import DiligentHook
from airflow_provider_monitoring.operators.diligent import (
    DiligentAlertsOperator, DiligentBulkCreateMonitoringsOperator, DiligentCreateMonitoringOperator,
)
from airflow_provider_monitoring.sandbox import OutcomeRule
from tests.standins import task_context
from tests.vendor_runs import DILIGENT_CHECKS as CHECKS
from tests.vendor_runs import create_diligent_monitoring as create
from tests.vendor_runs import start_diligent_monitoring as started
from tests.vendor_runs import wait_for_diligent_execution as wait


@pytest.mark.parametrize("kwargs, complaint", [
    ({"website": "shop.example.com"}, "http\\(s\\) URL"),
    ({"website": "https://shop.example.com", "checks": ["vibes"]}, "unknown checks value 'vibes'"),
    ({"website": "https://shop.example.com", "checks": ["high_risk_mcc", "high_risk_mcc"]}, "more than once"),
    ({"website": "https://shop.example.com", "frequency": "daily"}, "unknown frequency"),
    ({"website": "https://shop.example.com", "expires_at": datetime.now(timezone.utc) + timedelta(days=3)},
     "at least 14 days ahead"),
])
def test_bad_arguments_are_refused_before_any_request(monitoring_sandbox, kwargs, complaint):
    with pytest.raises(ConfigurationError, match=complaint):
        DiligentCreateMonitoringOperator(task_id="create", **{"checks": CHECKS, **kwargs})
    assert monitoring_sandbox.requests() == []


def test_frequency_is_case_insensitive(monitoring_sandbox):
    monitoring_id = create("https://shop.example.com", frequency="Every_3_Weeks")
    assert DiligentHook().get_monitoring(monitoring_id)["frequency"] == "every_3_weeks"


def test_a_retried_create_returns_the_existing_monitoring_with_one_post(monitoring_sandbox):
    first = create("https://shop.example.com")
    again = create("https://SHOP.example.com/")  # the same site, spelled as a retry might
    assert again == first
    assert monitoring_sandbox.requests("POST", "/diligent/monitorings") == [("POST", "/diligent/monitorings")]
    with pytest.raises(Exception, match="already exists"):
        create("https://shop.example.com", if_exists="fail")


def test_bulk_create_of_450_websites_is_three_requests(monitoring_sandbox):
    websites = [f"https://shop{n}.example.com" for n in range(450)]
    result = DiligentBulkCreateMonitoringsOperator(task_id="onboard", websites=websites, checks=CHECKS,
                                                   run_now=False).execute(task_context())
    assert len(result["created"]) == 450 and result["duplicates"] == []
    assert len(monitoring_sandbox.requests("POST", "/diligent/monitorings/bulk-create")) == 3
    again = DiligentBulkCreateMonitoringsOperator(task_id="onboard", websites=websites[:10] + ["https://new.example.com"],
                                                  checks=CHECKS, run_now=False).execute(task_context())
    assert [c["website"] for c in again["created"]] == ["https://new.example.com"]
    assert again["duplicates"] == websites[:10]


def test_alerts_are_returned_and_exactly_those_acknowledged(monitoring_sandbox, tmp_path):
    monitoring_sandbox.config.rules.insert(0, OutcomeRule("diligent", "*risky*", "alert"))
    risky, before = started("https://risky.example.com")
    other, _ = started("https://risky-too.example.com")
    wait(risky, before, on_alert="succeed")
    wait(other, before, on_alert="succeed")
    alerts = DiligentAlertsOperator(task_id="alerts", monitoring_id=risky, acknowledge=True).execute(task_context())
    assert alerts and {a["monitoring_id"] for a in alerts} == {risky}
    acks = monitoring_sandbox.requests("POST", "/diligent/monitoring-alerts/acknowledge")
    assert len(acks) == len(alerts)
    assert DiligentAlertsOperator(task_id="alerts", monitoring_id=risky).execute(task_context()) == []
    still_open = DiligentAlertsOperator(task_id="alerts", monitoring_id=other, output_path=str(tmp_path / "a.jsonl"))
    summary = still_open.execute(task_context())
    assert summary["records"] >= 1 and len((tmp_path / "a.jsonl").read_text().splitlines()) == summary["records"]
