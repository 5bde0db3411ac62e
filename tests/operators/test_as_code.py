"""MonitorsPlanOperator and MonitorsApplyOperator: in whole DAGs under dag.test() against the
sandbox, and their execute() for what a DAG run cannot easily show (failures, paths)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_monitoring.as_code import PlanError, SpecError
from airflow_provider_monitoring.hooks.diligent import DiligentHook
from airflow_provider_monitoring.operators.as_code import MonitorsApplyOperator, MonitorsPlanOperator
from airflow_provider_monitoring.sandbox import FaultRule
from tests.as_code.specs import datafold, diligent, encrata, write_spec
from tests.dag_runs import run_dags
from tests.standins import task_context

DAGS = textwrap.dedent('''
    import pendulum
    from airflow.sdk import dag, task

    from airflow_provider_monitoring.operators.as_code import MonitorsApplyOperator, MonitorsPlanOperator

    SPEC = {spec!r}


    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def a_plan_then_apply():
        plan = MonitorsPlanOperator(task_id="plan", spec_path=SPEC)
        apply = MonitorsApplyOperator(task_id="apply", spec_path=SPEC, plan=plan.output)

        @task
        def check(plan, applied):
            assert plan["has_changes"] and plan["summary"]["create"] == 3, plan
            assert [item["action"] for item in applied["changed"]] == ["create"] * 3, applied
            assert applied["unchanged"] == 0

        check(plan.output, apply.output)


    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def b_apply_again():
        plan = MonitorsPlanOperator(task_id="plan", spec_path=SPEC)
        apply = MonitorsApplyOperator(task_id="apply", spec_path=SPEC)

        @task
        def check(plan, applied):
            assert not plan["has_changes"] and plan["summary"]["unchanged"] == 3, plan
            assert applied == {{"changed": [], "unchanged": 3}}, applied

        check(plan.output, apply.output)


    a_plan_then_apply()
    b_apply_again()
''')


def test_plan_then_apply_in_a_dag_and_a_second_run_changes_nothing(tmp_path):
    spec = write_spec(tmp_path / "monitors.yaml", [encrata(0), diligent(0), datafold(1)])
    result = run_dags(DAGS.format(spec=str(spec)), tmp_path)
    assert result.states == {"a_plan_then_apply": "success", "b_apply_again": "success"}, result.log[-3000:]
    first = [request for request in result.requests["a_plan_then_apply"] if request[0] != "GET"]
    assert sorted(first) == [("POST", "/datafold/api/v1/monitors/create/metric"), ("POST", "/diligent/monitorings"),
                             ("POST", "/encrata/api/monitors")]
    assert [request for request in result.requests["b_apply_again"] if request[0] != "GET"] == []
    assert "Plan: 3 to create" in result.logs["a_plan_then_apply"]


def test_a_relative_spec_path_is_read_beside_the_dag_file(monitoring_sandbox, tmp_path):
    write_spec(tmp_path / "monitors.yaml", [encrata(1)])
    context = {**task_context(), "dag": SimpleNamespace(fileloc=str(tmp_path / "my_dag.py"))}
    plan = MonitorsPlanOperator(task_id="plan", spec_path="monitors.yaml").execute(context)
    assert plan["spec"] == str(tmp_path / "monitors.yaml") and plan["summary"]["create"] == 1


def test_a_bad_spec_fails_the_task_before_any_request(monitoring_sandbox, tmp_path):
    path = write_spec(tmp_path / "monitors.yaml", [{**encrata(1), "colour": "blue"}])
    for operator in (MonitorsPlanOperator(task_id="plan", spec_path=str(path)),
                     MonitorsApplyOperator(task_id="apply", spec_path=str(path))):
        with pytest.raises(SpecError, match="unknown field 'colour'"):
            operator.execute(task_context())
    assert monitoring_sandbox.requests() == []


def test_a_blocked_monitor_fails_the_plan_task(monitoring_sandbox, tmp_path):
    DiligentHook().create_monitoring("https://merchant2.example.net", ["high_risk_mcc"])
    path = write_spec(tmp_path / "monitors.yaml", [diligent(2)])
    with pytest.raises(PlanError, match="diligent 'merchant-2' is blocked: the website already has an active"):
        MonitorsPlanOperator(task_id="plan", spec_path=str(path)).execute(task_context())


def test_an_apply_failing_half_way_says_what_was_done_and_a_retry_finishes(monitoring_sandbox, tmp_path):
    path = write_spec(tmp_path / "monitors.yaml", [encrata(1), encrata(2), encrata(3)])
    monitoring_sandbox.config.faults.append(
        FaultRule("status", method="POST", path="/encrata/api/monitors", status=500, after=1, times=1))
    task = MonitorsApplyOperator(task_id="apply", spec_path=str(path))
    context = task_context()
    with pytest.raises(AirflowException, match="Apply stopped: create of encrata 'domains-2' failed; done before "
                                               "it: 1 created; not done: 1 more"):
        task.execute(context)
    report = context["ti"].pushed["apply_report"]
    assert [item["key"] for item in report["done"]] == ["domains-1"]
    assert [item["key"] for item in report["not_done"]] == ["domains-3"]
    retried = task.execute(task_context(try_number=2))
    assert [item["key"] for item in retried["changed"]] == ["domains-2", "domains-3"] and retried["unchanged"] == 1


def test_apply_refuses_a_plan_the_world_no_longer_matches(monitoring_sandbox, tmp_path):
    path = write_spec(tmp_path / "monitors.yaml", [encrata(4)])
    plan = MonitorsPlanOperator(task_id="plan", spec_path=str(path)).execute(task_context())
    MonitorsApplyOperator(task_id="apply", spec_path=str(path)).execute(task_context())
    with pytest.raises(PlanError, match="the saved plan is stale"):
        MonitorsApplyOperator(task_id="apply2", spec_path=str(path), plan=plan).execute(task_context())


def test_prune_must_be_a_boolean():
    with pytest.raises(ValueError, match="prune must be True or False"):
        MonitorsApplyOperator(task_id="apply", spec_path="monitors.yaml", prune="yes")


def test_importing_and_building_the_operators_loads_neither_the_planner_nor_an_http_library():
    code = (
        "import sys\n"
        "from airflow_provider_monitoring.operators.as_code import MonitorsApplyOperator, MonitorsPlanOperator\n"
        "MonitorsPlanOperator(task_id='plan', spec_path='monitors.yaml')\n"
        "MonitorsApplyOperator(task_id='apply', spec_path='monitors.yaml', prune=True)\n"
        "print(sorted(m for m in sys.modules if m.startswith('airflow_provider_monitoring.as_code')"
        " or m in ('requests', 'aiohttp')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    assert out.stdout.strip() == "[]"


def test_a_plan_rendered_into_text_is_refused_before_any_request(monitoring_sandbox, tmp_path):
    # A template without native rendering hands the plan XCom over as its text.
    path = write_spec(tmp_path / "monitors.yaml", [encrata(5)])
    plan = MonitorsPlanOperator(task_id="plan", spec_path=str(path)).execute(task_context())
    before = len(monitoring_sandbox.requests())
    with pytest.raises(PlanError, match="not a saved plan .*got str"):
        MonitorsApplyOperator(task_id="apply", spec_path=str(path), plan=str(plan)).execute(task_context())
    assert monitoring_sandbox.requests()[before:] == []
