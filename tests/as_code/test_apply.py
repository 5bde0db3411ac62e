"""Apply: a failure half-way says what was done and what was not, and a rerun finishes without a
duplicate; a create whose answer was lost is found again; a saved plan is applied only while the
spec and the vendors are as they were."""

from __future__ import annotations

from collections import Counter

import pytest

from airflow_provider_monitoring.as_code import PlanError
from airflow_provider_monitoring.as_code.model import Marker
from airflow_provider_monitoring.as_code.runner import apply_spec, plan_spec
from airflow_provider_monitoring.hooks.datafold import DatafoldHook
from airflow_provider_monitoring.hooks.diligent import DiligentHook
from airflow_provider_monitoring.hooks.encrata import EncrataHook
from airflow_provider_monitoring.sandbox import FaultRule
from tests.as_code.specs import datafold, diligent, encrata, thirty_monitors, write_spec


def managed_keys() -> Counter:
    """How many monitors carry each key's marker, across the three vendors (active Diligent ones)."""
    from airflow_provider_monitoring.as_code.model import split_suffix

    keys = [split_suffix(m["name"])[1] for m in EncrataHook().list_monitors()]
    keys += [split_suffix(m["external_id"])[1] for m in DiligentHook().list_monitorings() if m["is_active"]]
    keys += [Marker.parse(tag) for m in DatafoldHook().list_monitors() for tag in m["tags"] or []]
    return Counter(marker.key for marker in keys if marker is not None)


def test_an_apply_interrupted_by_a_500_reports_and_a_rerun_finishes_without_duplicates(monitoring_sandbox, tmp_path):
    path = write_spec(tmp_path / "monitors.yaml", thirty_monitors())
    # The fifth Datafold create answers 500 and creates nothing; the hook never sends a create twice.
    monitoring_sandbox.config.faults.append(
        FaultRule("status", method="POST", path="/datafold/api/v1/monitors/create/*", status=500, after=4, times=1))

    _, report = apply_spec(path)
    assert not report.ok
    assert (report.failed["action"], report.failed["key"]) == ("create", "quality-4")
    assert "500" in report.failed["error"]
    assert len(report.done) == 24 and [item["key"] for item in report.not_done] == [f"quality-{n}" for n in range(5, 10)]
    assert "Apply stopped: create of datafold 'quality-4' failed" in report.summary_line()
    assert "not done  create of datafold 'quality-9'" in report.render()

    plan, rerun = apply_spec(path)
    assert [action.key for action in plan.actions if action.kind == "create"] == [f"quality-{n}" for n in range(4, 10)]
    assert rerun.ok and len(rerun.done) == 6 and rerun.unchanged == 24
    counts = managed_keys()
    assert len(counts) == 30 and set(counts.values()) == {1}
    # One create per monitor reached the sandbox, plus the one the fault answered.
    assert len(monitoring_sandbox.requests("POST", "/datafold/api/v1/monitors/create/*")) == 11
    assert plan_spec(path).exit_code == 0


def test_a_create_whose_answer_was_lost_is_found_again_not_sent_twice(monitoring_sandbox, tmp_path):
    monitors = [encrata(n) for n in range(4)]
    path = write_spec(tmp_path / "monitors.yaml", monitors)
    monitoring_sandbox.config.faults.append(
        FaultRule("lost", method="POST", path="/encrata/api/monitors", status=502, after=2, times=1))
    _, report = apply_spec(path)
    assert report.ok and [item["key"] for item in report.done] == [m["key"] for m in monitors]
    assert len(monitoring_sandbox.requests("POST", "/encrata/api/monitors")) == 4
    assert managed_keys() == Counter({m["key"]: 1 for m in monitors})


def test_a_failure_between_the_two_halves_of_a_replace_is_finished_by_the_rerun(monitoring_sandbox, tmp_path):
    path = write_spec(tmp_path / "monitors.yaml", [encrata(1)])
    apply_spec(path)
    write_spec(path, [{**encrata(1), "targets": ["site1.example.com"]}])
    monitoring_sandbox.config.faults.append(FaultRule("status", method="POST", path="/encrata/api/monitors",
                                                      status=500, times=1))
    _, report = apply_spec(path)
    assert report.failed["action"] == "replace" and "was deleted, then creating its replacement failed" in (
        report.failed["error"])
    plan, rerun = apply_spec(path)
    assert [a.kind for a in plan.actions] == ["create"] and rerun.ok
    assert managed_keys() == Counter({"domains-1": 1})


def test_a_saved_plan_is_refused_once_the_vendors_or_the_spec_changed(monitoring_sandbox, tmp_path):
    path = write_spec(tmp_path / "monitors.yaml", [encrata(1), encrata(2)])
    _, created = apply_spec(path)
    write_spec(path, [{**encrata(1), "frequency": "monthly"}, encrata(2)])
    saved = plan_spec(path).as_dict()

    EncrataHook().update_monitor(created.done[1]["id"], frequency="quarterly")  # someone else's edit
    before = len(monitoring_sandbox.requests())
    with pytest.raises(PlanError, match=r"vendors changed since it was saved \(encrata 'domains-2' is now 'update', "
                                        r"was 'unchanged'\)"):
        apply_spec(path, saved_plan=saved)
    assert [r for r in monitoring_sandbox.requests()[before:] if r[0] != "GET"] == []

    saved = plan_spec(path).as_dict()
    write_spec(path, [{**encrata(1), "frequency": "biweekly"}, encrata(2)])
    with pytest.raises(PlanError, match="the spec changed since it was saved"):
        apply_spec(path, saved_plan=saved)

    before = len(monitoring_sandbox.requests())
    with pytest.raises(PlanError, match="prune asked for, but the saved plan was made without it"):
        apply_spec(path, prune=True, saved_plan=plan_spec(path).as_dict())
    assert [r for r in monitoring_sandbox.requests()[before:] if r[0] != "GET"] == []

    saved = plan_spec(path, prune=True).as_dict()
    plan, report = apply_spec(path, saved_plan=saved)  # unchanged since: applied, with the saved prune
    assert plan.prune and report.ok and len(report.done) == 2


def test_diligent_monitors_that_swap_or_take_over_websites_are_all_deactivated_before_any_create(
        monitoring_sandbox, tmp_path):
    # Diligent keeps one active monitoring per website: replaced one after the other, the first new
    # monitoring would meet the other's old one, and every rerun would fail the same way.
    first, second, third = diligent(1), diligent(2), diligent(3)
    path = write_spec(tmp_path / "monitors.yaml", [first, second, third])
    apply_spec(path)
    swapped = [{**first, "website": second["website"]}, {**second, "website": first["website"]}]
    write_spec(path, swapped + [third])
    before = len(monitoring_sandbox.requests())
    _, report = apply_spec(path)
    assert report.ok, report.render()
    assert [method for method, _ in monitoring_sandbox.requests()[before:] if method != "GET"] == [
        "DELETE", "DELETE", "POST", "POST"]
    assert plan_spec(path).exit_code == 0

    # A new key, first in the file, on the website of a key that --prune removes.
    write_spec(path, [{**diligent(9), "website": third["website"]}, *swapped])
    _, report = apply_spec(path, prune=True)
    assert report.ok and [(item["action"], item["key"]) for item in report.done] == [
        ("delete", "merchant-3"), ("create", "merchant-9")]
    assert plan_spec(path, prune=True).exit_code == 0


def test_a_failure_after_a_deactivation_says_the_replacement_is_still_to_come(monitoring_sandbox, tmp_path):
    first, second = diligent(1), diligent(2)
    path = write_spec(tmp_path / "monitors.yaml", [first, second])
    apply_spec(path)
    write_spec(path, [{**first, "frequency": "every_4_weeks"}, {**second, "frequency": "every_4_weeks"}])
    monitoring_sandbox.config.faults.append(FaultRule("status", method="POST", path="/diligent/monitorings",
                                                      status=400, times=1))
    _, report = apply_spec(path)
    assert (report.failed["action"], report.failed["key"]) == ("replace", "merchant-1")
    assert "was deactivated, then creating its replacement failed" in report.failed["error"]
    [rest] = report.not_done
    assert rest["key"] == "merchant-2" and "is deactivated already; its replacement is not created" in rest["note"]
    assert "(" + rest["note"] + ")" in report.render()
    _, rerun = apply_spec(path)
    assert rerun.ok and managed_keys() == Counter({"merchant-1": 1, "merchant-2": 1})


def test_a_lost_datafold_create_is_not_taken_for_another_monitor_of_the_same_name(monitoring_sandbox, tmp_path):
    # The hook finds a create whose answer was lost by name and type; the spec's two monitors share
    # both, and the second create fails without creating anything.
    twins = [datafold(1), {**datafold(1), "key": "quality-1-copy"}]
    path = write_spec(tmp_path / "monitors.yaml", twins)
    monitoring_sandbox.config.faults.append(
        FaultRule("status", method="POST", path="/datafold/api/v1/monitors/create/*", status=500, after=1, times=1))
    _, report = apply_spec(path)
    assert not report.ok and report.failed["key"] == "quality-1-copy", report.render()
    assert "does not carry its mark" in report.failed["error"]
    assert managed_keys() == Counter({"quality-1": 1})
    _, rerun = apply_spec(path)
    assert rerun.ok and managed_keys() == Counter({"quality-1": 1, "quality-1-copy": 1})
