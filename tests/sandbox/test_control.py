"""Events on request and on a schedule (docs/sandbox.md, "Events on request"): the control API
under /_sandbox, the schedule, and the commands that drive them; each checked through the vendor
APIs, as a watcher polling them would see it."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
import requests

from airflow_provider_monitoring._vendors import DILIGENT_CHECKS
from airflow_provider_monitoring.sandbox import FaultRule, OutcomeRule, Sandbox, SandboxConfig
from airflow_provider_monitoring.sandbox.__main__ import build_config, main, make_parser
from airflow_provider_monitoring.sandbox.client import ControlError, parse_schedule
from airflow_provider_monitoring.sandbox.core import ScheduleRule
from airflow_provider_monitoring.sandbox.stack import events_hint, sandbox_on
from tests.sandbox.polling import wait_for

RUN_SECONDS = 0.2
KEYS = {"encrata": ("Authorization", "Bearer {}"), "diligent": ("X-API-KEY", "{}"),
        "datafold": ("Authorization", "Key {}")}


@pytest.fixture
def sandbox():
    with Sandbox(SandboxConfig(run_seconds=RUN_SECONDS)) as running:
        yield running


def vendor(sandbox: Sandbox, name: str, method: str, path: str, **kwargs: Any) -> Any:
    """A vendor API call with the sandbox's key; its JSON answer."""
    header, form = KEYS[name]
    reply = requests.request(method, sandbox.vendor_url(name) + path, headers={header: form.format(sandbox.config.api_key)},
                             timeout=5, **kwargs)
    assert reply.ok, reply.text
    return reply.json() if reply.content else None


def start(sandbox: Sandbox, name: str, **body: Any) -> requests.Response:
    return requests.post(f"{sandbox.url}/_sandbox/{name}/runs", json=body, timeout=5)


def encrata_monitor(sandbox: Sandbox, name: str = "domains", targets: tuple[str, ...] = ("example.com", "mysite.io")) -> str:
    body = {"name": name, "monitor_type": "domain", "targets": list(targets)}
    return vendor(sandbox, "encrata", "POST", "/api/monitors", json=body)["id"]


def datafold_monitor(sandbox: Sandbox, name: str = "orders", kind: str = "schema", **extra: Any) -> int:
    body = {"name": name, "connection_id": 1, "schedule": {"type": "none"}, **extra}
    return vendor(sandbox, "datafold", "POST", f"/api/v1/monitors/create/{kind}", json=body)["id"]


def diligent_alerts(sandbox: Sandbox) -> dict:
    return vendor(sandbox, "diligent", "GET", "/monitoring-alerts", params={"only_unacknowledged": "true"})


def encrata_runs(sandbox: Sandbox) -> list[dict]:
    return vendor(sandbox, "encrata", "GET", "/api/monitoring/runs", params={"limit": 100})["runs"]


def datafold_runs(sandbox: Sandbox, monitor_id: int) -> list[dict]:
    return vendor(sandbox, "datafold", "GET", f"/api/v1/monitors/{monitor_id}/runs", params={"page_size": 100})["runs"]


def ended(states: list[str], running: tuple[str, ...]) -> bool:
    return bool(states) and not any(state in running for state in states)


# ---- on request: Diligent ------------------------------------------------------------------------


def test_a_diligent_run_on_request_raises_its_alerts_once_it_ends(sandbox):
    answer = start(sandbox, "diligent", website="https://Shop.Example.com/", alerts=2)
    assert answer.status_code == 201
    run = answer.json()
    assert run["vendor"] == "diligent" and run["outcome"] == "alert" and run["seconds"] == RUN_SECONDS
    assert run["website"] == "https://shop.example.com" and len(run["alert_ids"]) == 2 and run["ends_at"].endswith("Z")
    assert diligent_alerts(sandbox)["items"] == []  # nothing before the execution ends, as through the API

    alerts = wait_for(lambda: diligent_alerts(sandbox)["items"])
    assert {alert["id"] for alert in alerts} == set(run["alert_ids"])
    assert diligent_alerts(sandbox)["unacknowledged_count"] == 2
    for alert in alerts:
        assert alert["monitoring_id"] == run["monitor_id"] and alert["execution_result_id"] == run["run_id"]
        assert alert["website"] == "https://shop.example.com" and alert["execution_time"] == run["ends_at"]
        assert [check["check"] for check in alert["failed_checks"]] == list(DILIGENT_CHECKS)  # a new monitoring: every check
        assert {check["status"] for check in alert["failed_checks"]} == {"FAILED"}
    [execution] = vendor(sandbox, "diligent", "GET", "/monitoring-executions")["items"]
    assert execution["id"] == run["run_id"] and execution["alert_count"] == 2
    [monitoring] = vendor(sandbox, "diligent", "GET", "/monitorings")["items"]
    assert monitoring["id"] == run["monitor_id"] and monitoring["last_execution"] == run["ends_at"]
    assert monitoring["running_state"] == "IDLE"


def test_a_diligent_website_that_is_monitored_runs_its_own_monitoring(sandbox):
    body = {"website": "https://shop.example.com", "checks": ["high_risk_mcc"], "run_now": False}
    created = vendor(sandbox, "diligent", "POST", "/monitorings", json=body)
    by_website = start(sandbox, "diligent", website="shop.example.com".join(("https://", "/")), alerts=1).json()
    by_id = start(sandbox, "diligent", monitor_id=created["id"], outcome="ok").json()
    assert by_website["monitor_id"] == by_id["monitor_id"] == created["id"]
    assert by_id["alert_ids"] == [] and by_id["outcome"] == "ok"
    [alert] = wait_for(lambda: diligent_alerts(sandbox)["items"])
    assert [check["check"] for check in alert["failed_checks"]] == ["high_risk_mcc"]
    executions = wait_for(lambda: len(vendor(sandbox, "diligent", "GET", "/monitoring-executions")["items"]) == 2)
    assert executions and len(vendor(sandbox, "diligent", "GET", "/monitorings")["items"]) == 1


def test_a_diligent_run_without_an_outcome_follows_the_outcome_rules(sandbox):
    assert start(sandbox, "diligent", website="https://alert-demo.example.com").json()["outcome"] == "alert"
    assert start(sandbox, "diligent", website="https://fail-demo.example.com").json()["outcome"] == "failed"
    plain = start(sandbox, "diligent", website="https://plain.example.com").json()
    assert plain["outcome"] == "ok" and plain["alert_ids"] == []
    assert len(wait_for(lambda: diligent_alerts(sandbox)["items"])) == 1  # one alert, as the vendor's own run raises


def test_a_deactivated_monitoring_runs_no_more(sandbox):
    created = vendor(sandbox, "diligent", "POST", "/monitorings", json={"website": "https://gone.example.com",
                                                                        "checks": ["high_risk_mcc"]})
    vendor(sandbox, "diligent", "DELETE", f"/monitorings/{created['id']}/deactivate")
    refused = start(sandbox, "diligent", monitor_id=created["id"], alerts=1)
    assert refused.status_code == 409 and "deactivated" in refused.json()["error"]


# ---- on request: Encrata and Datafold ------------------------------------------------------------


@pytest.mark.parametrize("changes, expected", [(True, 3), (False, 0)])
def test_an_encrata_run_on_request_can_change_every_target_or_none(sandbox, changes, expected):
    monitor_id = encrata_monitor(sandbox, targets=("example.com", "mysite.io", "shop.example.org"))
    run = start(sandbox, "encrata", monitor_id=monitor_id, changes=changes).json()
    assert run["outcome"] == "success" and run["changes_detected"] == expected
    [listed] = wait_for(lambda: [r for r in encrata_runs(sandbox) if r["status"] == "success"])
    assert listed["id"] == run["run_id"] and listed["monitor_id"] == monitor_id
    assert listed["changes_detected"] == expected and listed["total_records"] == 3
    results = vendor(sandbox, "encrata", "GET", f"/api/monitors/{monitor_id}/runs/{run['run_id']}/results")
    assert sum(1 for record in results if record["has_changes"]) == expected


def test_an_encrata_run_on_request_is_the_same_as_one_through_the_api(sandbox):
    monitor_id = encrata_monitor(sandbox)
    through_api = vendor(sandbox, "encrata", "POST", f"/api/monitors/{monitor_id}/run", json={})["run_id"]
    on_request = start(sandbox, "encrata", monitor_id=monitor_id).json()
    runs = wait_for(lambda: ended([r["status"] for r in encrata_runs(sandbox)], ("pending", "running")) and
                    encrata_runs(sandbox))
    assert [r["id"] for r in runs] == [on_request["run_id"], through_api]  # newest first
    strip = ("id", "started_at", "completed_at", "created_at")
    assert [{k: v for k, v in r.items() if k not in strip} for r in runs] == [
        {k: v for k, v in runs[1].items() if k not in strip}] * 2
    assert runs[0]["changes_detected"] == on_request["changes_detected"]


@pytest.mark.parametrize("outcome", ["alert", "error", "ok"])
def test_a_datafold_run_on_request_ends_as_asked(sandbox, outcome):
    monitor_id = datafold_monitor(sandbox, kind="diff", datadiff={
        "diff_type": "indb", "primary_key": ["id"],
        "dataset_a": {"connection_id": 1, "table": "db.orders"}, "dataset_b": {"connection_id": 1, "table": "db.copy"}})
    run = start(sandbox, "datafold", monitor_id=str(monitor_id), outcome=outcome, seconds=0.1).json()
    assert run["monitor_id"] == monitor_id and run["outcome"] == outcome and run["seconds"] == 0.1
    [listed] = wait_for(lambda: [r for r in datafold_runs(sandbox, monitor_id) if r["state"] == outcome])
    assert listed["run_id"] == run["run_id"] and listed["diff_id"] is not None
    detail = vendor(sandbox, "datafold", "GET", f"/api/v1/monitors/{monitor_id}/runs/{run['run_id']}")
    assert (detail["error"] is not None) == (outcome == "error")
    diff = vendor(sandbox, "datafold", "GET", f"/api/v1/datadiffs/{listed['diff_id']}")
    assert diff["result"] == {"alert": "different", "error": "error", "ok": "identical"}[outcome]


def test_runs_on_request_follow_the_outcome_rules_unless_told(sandbox):
    sandbox.config.rules.insert(0, OutcomeRule("datafold", "orders*", "alert", seconds=3))
    monitor_id = datafold_monitor(sandbox)
    assert (start(sandbox, "datafold", monitor_id=monitor_id).json()["outcome"], 3) == ("alert", 3)
    only_duration = start(sandbox, "datafold", monitor_id=monitor_id, seconds=0.5).json()
    assert (only_duration["outcome"], only_duration["seconds"]) == ("alert", 0.5)
    assert start(sandbox, "datafold", monitor_id=monitor_id, outcome="ok").json()["outcome"] == "ok"


def test_the_python_helper_starts_runs_through_the_control_api(sandbox):
    run = sandbox.start_run("diligent", website="https://helper.example.com", alerts=1)
    assert run["outcome"] == "alert"
    with pytest.raises(ControlError) as refused:
        sandbox.start_run("datafold", monitor_id=404)
    assert refused.value.status == 404 and "no datafold monitor 404" in refused.value.message


# ---- the control API's refusals and its place beside the vendors ---------------------------------


@pytest.mark.parametrize("name, body, status, says", [
    ("encrata", [1], 400, "must be a JSON object"),
    ("encrata", {"monitor_id": "m", "alerts": 2}, 400, "unknown field(s) 'alerts'"),
    ("diligent", {"monitoring_id": "x"}, 400, "takes monitor_id, outcome, seconds, website, checks, alerts"),
    ("datafold", {"monitor_id": "1", "outcome": "alret"}, 400, "outcome must be one of ok, alert, error"),
    ("datafold", {"monitor_id": "1", "seconds": -1}, 400, "seconds must be a number from 0 to 86400"),
    ("datafold", {"monitor_id": "1", "seconds": "2"}, 400, "seconds must be a number"),
    ("diligent", {"website": "https://a.example.com", "alerts": 0}, 400, "alerts must be an integer from 1 to 100"),
    ("diligent", {"website": "https://a.example.com", "alerts": 2, "outcome": "ok"}, 400, "not 'ok'"),
    ("encrata", {"monitor_id": "m", "changes": "yes"}, 400, "changes must be true"),
    ("encrata", {}, 400, "monitor_id is required"),
    ("datafold", {"monitor_id": [1]}, 400, "monitor_id must be a string or an integer"),
    ("diligent", {}, 400, "give either monitor_id or website"),
    ("diligent", {"monitor_id": "x", "website": "https://a.example.com"}, 400, "give either monitor_id or website"),
    ("diligent", {"website": "not a url"}, 400, "website: Invalid url"),
    ("diligent", {"website": "http://127.0.0.1/"}, 400, "URL validation failed"),
    ("diligent", {"website": "https://a.example.com", "checks": ["nope"]}, 400, "checks.0: Invalid enum value"),
    ("encrata", {"monitor_id": "missing"}, 404, "the sandbox has no encrata monitor 'missing'"),
    ("zendesk", {"monitor_id": "1"}, 404, "no vendor 'zendesk'"),
])
def test_the_control_api_refuses_bad_input_clearly(sandbox, name, body, status, says):
    answer = start(sandbox, name, **body) if isinstance(body, dict) else requests.post(
        f"{sandbox.url}/_sandbox/{name}/runs", json=body, timeout=5)
    assert answer.status_code == status and says in answer.json()["error"], answer.text
    assert vendor(sandbox, "diligent", "GET", "/monitorings")["items"] == []  # nothing was created


def test_a_body_that_is_not_json_and_an_unknown_path_are_refused_in_the_same_shape(sandbox):
    not_json = requests.post(f"{sandbox.url}/_sandbox/encrata/runs", data="{", timeout=5)
    assert not_json.status_code == 400 and not_json.json() == {"error": "the body must be JSON"}
    unknown = requests.get(f"{sandbox.url}/_sandbox/nothing", timeout=5)
    assert unknown.status_code == 404 and unknown.json() == {"error": "not found: GET /_sandbox/nothing"}
    wrong_method = requests.delete(f"{sandbox.url}/_sandbox/schedules", timeout=5)
    assert wrong_method.status_code == 405


def test_the_control_api_needs_no_key_is_never_faulted_and_stays_out_of_the_request_log():
    config = SandboxConfig(run_seconds=RUN_SECONDS, faults=[FaultRule("status", status=503)])
    with Sandbox(config) as sandbox:
        assert start(sandbox, "diligent", website="https://shop.example.com").status_code == 201
        assert requests.get(f"{sandbox.url}/_sandbox/requests", timeout=5).json() == {"requests": []}
        assert requests.get(f"{sandbox.url}/diligent/monitorings", timeout=5).status_code == 503
        assert sandbox.requests() == [("GET", "/diligent/monitorings")]


def test_the_request_log_lists_method_path_query_and_time_with_filters(sandbox):
    before = time.time()
    vendor(sandbox, "diligent", "GET", "/monitoring-alerts", params={"only_unacknowledged": "true"})
    vendor(sandbox, "diligent", "POST", "/monitorings", json={"website": "https://a.example.com", "checks": ["high_risk_mcc"]})
    time.sleep(0.05)
    middle = time.time()
    vendor(sandbox, "datafold", "GET", "/api/v1/monitors", params={"page": 1})

    def log(**query: Any) -> list[dict]:
        return requests.get(f"{sandbox.url}/_sandbox/requests", params=query, timeout=5).json()["requests"]

    everything = log()
    assert [(e["method"], e["path"], e["query"]) for e in everything] == [
        ("GET", "/diligent/monitoring-alerts", "only_unacknowledged=true"), ("POST", "/diligent/monitorings", ""),
        ("GET", "/datafold/api/v1/monitors", "page=1")]
    assert before <= everything[0]["at"] <= everything[1]["at"] < middle <= everything[2]["at"]
    assert [e["path"] for e in log(method="get", path="/diligent/*")] == ["/diligent/monitoring-alerts"]
    assert [e["path"] for e in log(since=middle)] == ["/datafold/api/v1/monitors"]
    refused = requests.get(f"{sandbox.url}/_sandbox/requests", params={"since": "yesterday"}, timeout=5)
    assert refused.status_code == 400 and "epoch seconds" in refused.json()["error"]


def test_a_run_on_request_is_kept_in_the_state_file(tmp_path):
    config = SandboxConfig(run_seconds=RUN_SECONDS, state_file=str(tmp_path / "state.json"))
    with Sandbox(config) as sandbox:
        run = start(sandbox, "diligent", website="https://kept.example.com", alerts=1).json()
    state = json.loads((tmp_path / "state.json").read_text())
    assert set(state["diligent"]["alerts"]) == set(run["alert_ids"])


# ---- on a schedule -------------------------------------------------------------------------------


def test_matching_monitors_run_at_the_interval_and_the_rest_do_not():
    every = 0.3
    config = SandboxConfig(run_seconds=0.1, schedules=[ScheduleRule("datafold", "orders*", every)])
    with Sandbox(config) as sandbox:
        scheduled, other = datafold_monitor(sandbox, "orders rows"), datafold_monitor(sandbox, "customers")
        disabled = datafold_monitor(sandbox, "orders disabled", enabled=False)
        time.sleep(every * 4 + 1.0)  # first seen within a second, then a run every period
        runs = sandbox.call(lambda state: sorted(
            (run["created_ts"], run["monitor_id"]) for run in state["datafold"]["runs"].values()))
    assert {monitor for _, monitor in runs} == {scheduled}, "only the enabled monitor the rule matches runs"
    starts = [moment for moment, _ in runs]
    assert 3 <= len(starts) <= 8
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:])]
    # The cadence is kept: a run started late does not push the next ones back (so a busy machine
    # may shorten one gap, never the mean).
    assert every * 0.9 <= sum(gaps) / len(gaps) <= every * 2 and min(gaps) >= every * 0.3, gaps
    assert disabled and other


def test_scheduled_diligent_runs_alert_as_the_outcome_rules_say(sandbox):
    vendor(sandbox, "diligent", "POST", "/monitorings",
           json={"website": "https://alert-demo.example.com", "checks": ["high_risk_mcc"], "run_now": False})
    vendor(sandbox, "diligent", "POST", "/monitorings",
           json={"website": "https://quiet.example.com", "checks": ["high_risk_mcc"], "run_now": False})
    put = requests.put(f"{sandbox.url}/_sandbox/schedules",
                       json={"schedules": [{"vendor": "diligent", "match": "*", "every": 0.2}]}, timeout=5)
    assert put.json() == {"schedules": [{"vendor": "diligent", "match": "*", "every": 0.2}]}
    alerts = wait_for(lambda: len(diligent_alerts(sandbox)["items"]) >= 3 and diligent_alerts(sandbox)["items"])
    assert {alert["website"] for alert in alerts} == {"https://alert-demo.example.com"}
    executions = vendor(sandbox, "diligent", "GET", "/monitoring-executions", params={"page_size": 100})["items"]
    assert {e["website"] for e in executions} == {"https://alert-demo.example.com", "https://quiet.example.com"}
    assert {e["alert_count"] for e in executions if "quiet" in e["website"]} == {0}


def test_a_paused_encrata_monitor_is_not_scheduled_and_a_schedule_can_be_switched_off(sandbox):
    active, paused = encrata_monitor(sandbox, "active"), encrata_monitor(sandbox, "paused")
    vendor(sandbox, "encrata", "PATCH", f"/api/monitors/{paused}", json={"status": "paused"})
    sandbox.config.schedules.append(ScheduleRule("encrata", "*", 0.2))
    wait_for(lambda: len(encrata_runs(sandbox)) >= 2)
    assert {run["monitor_id"] for run in encrata_runs(sandbox)} == {active}
    off = requests.put(f"{sandbox.url}/_sandbox/schedules", json={"schedules": []}, timeout=5)
    assert off.json() == {"schedules": []} and sandbox.config.schedules == []
    time.sleep(0.1)  # a run the scheduler was starting as the schedule changed
    count = len(encrata_runs(sandbox))
    time.sleep(0.6)
    assert len(encrata_runs(sandbox)) == count


@pytest.mark.parametrize("body, says", [
    ({"schedules": [{"vendor": "zendesk", "match": "*", "every": 1}]}, "vendor must be one of"),
    ({"schedules": [{"vendor": "*", "match": "*", "every": 0.01}]}, "every must be a number of seconds of at least 0.1"),
    ({"schedules": [{"vendor": "*", "match": "*"}]}, "missing 1 required positional argument: 'every'"),
    ({"schedules": "diligent:*=30"}, "schedules must be a list"),
    ({"rules": []}, "unknown field(s) 'rules'"),
])
def test_a_bad_schedule_is_refused_and_the_old_one_kept(sandbox, body, says):
    sandbox.config.schedules.append(ScheduleRule("datafold", "x", 60))
    answer = requests.put(f"{sandbox.url}/_sandbox/schedules", json=body, timeout=5)
    assert answer.status_code == 400 and says in answer.json()["error"], answer.text
    assert requests.get(f"{sandbox.url}/_sandbox/schedules", timeout=5).json() == {
        "schedules": [{"vendor": "datafold", "match": "x", "every": 60}]}


def test_the_scheduler_stops_with_the_sandbox():
    sandbox = Sandbox(SandboxConfig(schedules=[ScheduleRule("*", "*", 0.1)])).start()
    sandbox.stop()
    assert not sandbox._thread.is_alive()


# ---- the command line ---------------------------------------------------------------------------


def test_schedule_flags_and_the_config_file_key(tmp_path):
    file = tmp_path / "sandbox.json"
    file.write_text(json.dumps({"schedules": [{"vendor": "diligent", "match": "*alert-demo*", "every": 30}]}))
    config = build_config(make_parser().parse_args(["--config", str(file), "--schedule", "datafold:orders*=5"]))
    assert config.schedules == [ScheduleRule("diligent", "*alert-demo*", 30), ScheduleRule("datafold", "orders*", 5)]
    assert parse_schedule("datafold:orders*=5").flag() == "datafold:orders*=5"


@pytest.mark.parametrize("flag, says", [
    ("diligent=30", "expected VENDOR:GLOB=SECONDS"),
    ("diligent:*=soon", "expected VENDOR:GLOB=SECONDS"),
    ("zendesk:*=30", "vendor must be one of"),
    ("diligent:*=0", "every must be a number of seconds of at least 0.1"),
])
def test_a_bad_schedule_flag_is_refused_by_name(capsys, flag, says):
    with pytest.raises(SystemExit):
        make_parser().parse_args(["--schedule", flag])
    assert says in capsys.readouterr().err


def test_the_commands_drive_a_running_sandbox(sandbox, capsys):
    url = ["--url", sandbox.url]
    monitor_id = encrata_monitor(sandbox)
    main(["run", "encrata", monitor_id, "--changes", "--seconds", "0.1", *url])
    main(["run", "diligent", "https://cli.example.com", "--alerts", "2", "--checks", "high_risk_mcc", *url])
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed[0]["monitor_id"] == monitor_id and printed[0]["changes_detected"] == 2
    assert printed[0]["seconds"] == 0.1
    assert printed[1]["website"] == "https://cli.example.com" and len(printed[1]["alert_ids"]) == 2

    main(["schedule", "diligent:*cli*=30", "datafold:*=60", *url])
    assert capsys.readouterr().out == "diligent:*cli*=30\ndatafold:*=60\n"
    main(["schedule", *url])
    assert capsys.readouterr().out == "diligent:*cli*=30\ndatafold:*=60\n"
    main(["schedule", "--off", *url])
    assert capsys.readouterr().out == "no schedule\n" and sandbox.config.schedules == []

    vendor(sandbox, "diligent", "GET", "/monitoring-alerts", params={"page_size": 5})
    main(["requests", "--path", "/diligent/*", *url])
    assert capsys.readouterr().out == "GET /diligent/monitoring-alerts?page_size=5\n"


def test_a_command_the_sandbox_refuses_says_why(sandbox):
    with pytest.raises(SystemExit) as refused:
        main(["run", "datafold", "12", "--url", sandbox.url])
    assert str(refused.value) == "airflow-monitoring-sandbox run: 404: the sandbox has no datafold monitor '12'"
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(SystemExit) as unreachable:
        main(["requests", "--url", f"http://127.0.0.1:{port}"])
    assert f"no sandbox answered at http://127.0.0.1:{port}" in str(unreachable.value)


def test_the_stack_prefers_the_commands_default_port_and_says_where_it_is_otherwise():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with sandbox_on(SandboxConfig(), port) as sandbox:
            assert sandbox.port != port
            assert events_hint(sandbox).endswith(f"--alerts 2 --url {sandbox.url}  (more in docs/sandbox.md)")
    with sandbox_on(SandboxConfig(), port) as sandbox:
        assert sandbox.port == port
