"""The sandbox process itself: startup, connections, faults, the command line."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time

import pytest
import requests

from airflow_provider_monitoring.sandbox import FaultRule, OutcomeRule, Sandbox, SandboxConfig
from airflow_provider_monitoring.sandbox.__main__ import build_config, main, make_parser, parse_outcome
from airflow_provider_monitoring.sandbox.core import DEFAULT_RULES, OUTCOME_WORDS


def test_connection_env_points_each_vendor_at_its_prefix():
    with Sandbox(SandboxConfig(api_key="k-123")) as sandbox:
        env = sandbox.connection_env()
    assert set(env) == {"AIRFLOW_CONN_ENCRATA_DEFAULT", "AIRFLOW_CONN_DILIGENT_DEFAULT", "AIRFLOW_CONN_DATAFOLD_DEFAULT"}
    datafold = json.loads(env["AIRFLOW_CONN_DATAFOLD_DEFAULT"])
    assert datafold == {"conn_type": "datafold", "host": f"{sandbox.url}/datafold", "password": "k-123"}


def test_first_matching_outcome_rule_wins():
    config = SandboxConfig(run_seconds=3, rules=[
        OutcomeRule("datafold", "orders*", "alert", seconds=0.1),
        OutcomeRule("*", "*", "error"),
    ])
    assert config.outcome("datafold", "17", "orders row count") == ("alert", 0.1)
    assert config.outcome("encrata", "m1") == ("error", 3)
    assert SandboxConfig().outcome("diligent", "x") == ("ok", 2.0)


@pytest.mark.parametrize("vendor, keys, outcome", [
    ("datafold", ("17", "orders replica alert demo", "tag"), "alert"),
    ("encrata", ("m1", "contacts alert demo"), "alert"),  # reported as is: Encrata has no alert word
    ("diligent", ("id", "https://alert-demo.example.com", None), "alert"),
    ("diligent", ("id", "https://fail-demo.example.com", None), "failed"),
    ("diligent", ("id", "https://shop.example.com", "onboarding fail demo"), "failed"),
    ("encrata", ("m1", "sensor fail demo"), "failed"),
    ("datafold", ("17", "orders fail demo"), "error"),
    ("datafold", ("17", "orders", "alert-demo"), "ok"),  # the hyphenated form is Diligent's alone
    ("encrata", ("m1", "Alert Demo"), "success"),  # globs are case-sensitive
])
def test_the_default_rules_give_the_example_dags_their_outcomes(vendor, keys, outcome):
    assert SandboxConfig(run_seconds=1).outcome(vendor, *keys) == (outcome, 1)


def test_your_rules_come_before_the_default_rules_which_can_be_left_out():
    mine = SandboxConfig(rules=[OutcomeRule("datafold", "*replica*", "ok", seconds=0.1)])
    assert mine.outcome("datafold", "orders replica alert demo") == ("ok", 0.1)
    assert mine.outcome("datafold", "other alert demo") == ("alert", 2.0)  # the defaults still follow
    assert SandboxConfig(default_rules=[]).outcome("datafold", "orders replica alert demo") == ("ok", 2.0)
    seconds_only = SandboxConfig(rules=[OutcomeRule(match="*", seconds=5)])
    assert seconds_only.outcome("datafold", "x alert demo") == ("ok", 5)  # the first match decides both


def test_each_config_has_its_own_copy_of_the_default_rules():
    config = SandboxConfig()
    config.default_rules[0].outcome = "error"
    config.default_rules.clear()
    assert SandboxConfig().default_rules == list(DEFAULT_RULES) and DEFAULT_RULES[0].outcome == "alert"


def test_the_command_line_keeps_the_default_rules_after_its_own_unless_told_otherwise(tmp_path):
    def config(*argv: str) -> SandboxConfig:
        return build_config(make_parser().parse_args(list(argv)))

    plain = config("--outcome", "datafold:*=ok")
    assert plain.rules == [OutcomeRule("datafold", "*", "ok")] and plain.default_rules == list(DEFAULT_RULES)
    assert config("--no-default-rules").default_rules == []
    file = tmp_path / "sandbox.json"
    file.write_text(json.dumps({"default_rules": [{"vendor": "encrata", "match": "x*", "outcome": "failed"}]}))
    assert config("--config", str(file)).default_rules == [OutcomeRule("encrata", "x*", "failed")]
    file.write_text(json.dumps({"default_rules": []}))
    assert config("--config", str(file)).default_rules == []


def test_help_lists_the_rule_syntax_the_outcome_words_and_the_default_rules(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--help"])
    assert stopped.value.code == 0
    shown = capsys.readouterr().out
    assert "VENDOR:GLOB=OUTCOME[@SECONDS]" in shown and "--outcome 'datafold:orders*=alert@5'" in shown
    for vendor, (words, _) in OUTCOME_WORDS.items():
        assert re.search(rf"^  {vendor} +{', '.join(words)} ", shown, re.M), vendor
    for rule in DEFAULT_RULES:
        assert f"--outcome '{rule.flag()}'" in shown
        assert parse_outcome(rule.flag()) == rule  # what the help shows is what the flag reads
    assert "--no-default-rules" in shown


def test_a_plainly_started_sandbox_applies_the_default_rules(monitoring_sandbox):
    """The pytest fixture as installed (no config override): a Datafold "alert demo" run alerts."""
    api, headers = monitoring_sandbox.vendor_url("datafold") + "/api/v1/monitors", {"Authorization": "Key sandbox-api-key"}
    body = {"name": "orders replica alert demo", "connection_id": 1, "schedule": {"type": "none"}}
    monitor = requests.post(f"{api}/create/schema", json=body, headers=headers, timeout=5).json()
    run = requests.post(f"{api}/{monitor['id']}/run", headers=headers, timeout=5).json()
    deadline = time.monotonic() + 5
    while (state := requests.get(f"{api}/{monitor['id']}/runs/{run['run_id']}", headers=headers,
                                 timeout=5).json()["state"]) != "alert":
        assert state in ("created", "queued", "checking") and time.monotonic() < deadline, state
        time.sleep(0.05)


@pytest.mark.parametrize("fault, check", [
    (FaultRule("retry_after", path="/encrata/*", retry_after=7, times=1),
     lambda r: r.status_code == 429 and r.headers["Retry-After"] == "7"),
    (FaultRule("status", path="/encrata/*", status=503, times=1), lambda r: r.status_code == 503),
    (FaultRule("malformed", path="/encrata/*", times=1),
     lambda r: r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")),
])
def test_a_fault_answers_matching_requests_the_given_number_of_times(fault, check):
    with Sandbox(SandboxConfig(faults=[fault])) as sandbox:
        first = requests.get(f"{sandbox.url}/encrata/api/monitors", timeout=5)
        second = requests.get(f"{sandbox.url}/encrata/api/monitors", timeout=5)
        other = requests.get(f"{sandbox.url}/diligent/monitorings", timeout=5)
    assert check(first)
    assert not check(second) and second.status_code != 429
    assert other.status_code == 401  # not faulted (the path does not match): the vendor's own answer


def test_slow_and_dropped_replies():
    faults = [FaultRule("slow", path="/datafold/*", delay=0.6, times=1), FaultRule("drop", path="/diligent/*", times=1)]
    with Sandbox(SandboxConfig(faults=faults)) as sandbox:
        started = time.monotonic()
        requests.get(f"{sandbox.url}/datafold/api/v1/monitors", timeout=5)
        assert time.monotonic() - started >= 0.6
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{sandbox.url}/diligent/monitorings", timeout=5)


def test_a_fault_can_let_the_first_matching_requests_through_and_hit_a_later_one():
    fault = FaultRule("status", method="POST", path="/encrata/api/monitors", status=500, after=2, times=1)
    with Sandbox(SandboxConfig(faults=[fault])) as sandbox:
        headers = {"Authorization": f"Bearer {sandbox.config.api_key}"}
        statuses = [requests.post(f"{sandbox.url}/encrata/api/monitors", headers=headers, timeout=5,
                                  json={"name": f"m{n}", "monitor_type": "domain", "targets": ["example.com"]}
                                  ).status_code for n in range(4)]
        names = [m["name"] for m in requests.get(f"{sandbox.url}/encrata/api/monitors", headers=headers,
                                                 timeout=5).json()]
    assert statuses == [201, 201, 500, 201]
    assert sorted(names) == ["m0", "m1", "m3"]  # the faulted create never reached the emulator


def test_a_lost_answer_fault_lets_the_write_happen_and_answers_an_error():
    fault = FaultRule("lost", method="POST", path="/datafold/api/v1/monitors/create/*", status=502, times=1)
    with Sandbox(SandboxConfig(faults=[fault])) as sandbox:
        api, headers = sandbox.vendor_url("datafold") + "/api/v1/monitors", {"Authorization": "Key sandbox-api-key"}
        body = {"name": "kept anyway", "connection_id": 1, "schedule": {"type": "none"}}
        reply = requests.post(f"{api}/create/schema", json=body, headers=headers, timeout=5)
        listed = requests.get(api, headers=headers, timeout=5).json()["monitors"]
    assert reply.status_code == 502 and reply.json() == {"detail": "sandbox fault 502"}
    assert [m["name"] for m in listed] == ["kept anyway"]


def test_outcome_flag_syntax():
    assert parse_outcome("datafold:orders*=alert@5") == OutcomeRule("datafold", "orders*", "alert", 5.0)
    assert parse_outcome("*:*=failed") == OutcomeRule("*", "*", "failed", None)


def test_command_prints_the_connections_and_serves_until_stopped(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_monitoring.sandbox", "--port", "0", "--api-key", "cli-key",
         "--outcome", "datafold:*=alert"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ,
    )
    try:
        lines = [process.stdout.readline().strip() for _ in range(3)]
        assert all(line.startswith("export AIRFLOW_CONN_") for line in lines)
        encrata = next(line for line in lines if "ENCRATA" in line)
        url = json.loads(encrata.split("=", 1)[1].strip("'"))["host"]
        assert json.loads(encrata.split("=", 1)[1].strip("'"))["password"] == "cli-key"
        reply = requests.get(f"{url}/api/monitors", headers={"Authorization": "Bearer wrong"}, timeout=5)
        assert reply.status_code == 401
    finally:
        process.terminate()
        process.wait(10)
    assert process.returncode == 0


@pytest.mark.parametrize("path, body", [
    ("/encrata/api/agent/monitors", {"c": 503, "m": "sandbox fault 503"}),
    ("/encrata/api/monitors", {"error": "sandbox fault 503"}),
    ("/diligent/monitorings", {"error": "sandbox fault 503"}),
    ("/datafold/api/v1/monitors", {"detail": "sandbox fault 503"}),
])
def test_injected_errors_take_the_vendor_shape(path, body):
    with Sandbox(SandboxConfig(faults=[FaultRule("status", status=503)])) as sandbox:
        reply = requests.get(sandbox.url + path, timeout=5)
    assert reply.status_code == 503 and reply.json() == body


def test_a_state_file_keeps_monitors_across_restarts(tmp_path):
    config = SandboxConfig(api_key="k-state", state_file=str(tmp_path / "state.json"))
    headers = {"Authorization": "Key k-state"}
    body = {"name": "kept", "connection_id": 1, "schedule": {"type": "none"}}
    with Sandbox(config) as sandbox:
        created = requests.post(f"{sandbox.url}/datafold/api/v1/monitors/create/schema", json=body,
                                headers=headers, timeout=5).json()
    with Sandbox(config) as restarted:
        again = requests.get(f"{restarted.url}/datafold/api/v1/monitors/{created['id']}", headers=headers, timeout=5)
    assert again.status_code == 200 and again.json()["name"] == "kept"


def test_a_rule_without_outcome_only_sets_the_duration():
    config = SandboxConfig(rules=[OutcomeRule(match="slow*", seconds=10)])
    assert config.outcome("datafold", "slow monitor") == ("ok", 10)
    assert config.outcome("encrata", "slow monitor") == ("success", 10)


def test_stop_returns_promptly_with_a_request_still_in_flight():
    import threading

    sandbox = Sandbox(SandboxConfig(faults=[FaultRule("slow", delay=30)])).start()

    def slow_call() -> None:
        with contextlib.suppress(requests.RequestException):  # the stop cuts it: that is the point
            requests.get(f"{sandbox.url}/datafold/api/v1/monitors", timeout=60)

    caller = threading.Thread(target=slow_call, daemon=True)
    caller.start()
    time.sleep(0.3)
    started = time.monotonic()
    sandbox.stop()
    assert time.monotonic() - started < 8
    assert not sandbox._thread.is_alive()


def test_a_wildcard_bind_is_reached_on_loopback_and_ipv6_is_bracketed():
    assert Sandbox(host="0.0.0.0", port=8900).url == "http://127.0.0.1:8900"
    assert Sandbox(host="::1", port=8900).url == "http://[::1]:8900"


def test_the_callers_config_keeps_its_fault_counts():
    config = SandboxConfig(faults=[FaultRule("status", status=503, times=1)])
    for _ in range(2):
        with Sandbox(config) as sandbox:
            assert requests.get(f"{sandbox.url}/datafold/api/v1/monitors", timeout=5).status_code == 503
    assert config.faults[0].times == 1


def test_call_runs_on_the_sandbox_thread_between_requests():
    with Sandbox() as sandbox:
        names = sandbox.call(lambda state: threading_name())
    assert names == "monitoring-sandbox"


def threading_name() -> str:
    import threading

    return threading.current_thread().name


def test_the_request_log_records_what_was_asked():
    with Sandbox() as sandbox:
        requests.get(f"{sandbox.url}/datafold/api/v1/monitors", timeout=5)
        requests.post(f"{sandbox.url}/encrata/api/monitors/m1/run", json={}, timeout=5)
        assert sandbox.requests("POST", "/encrata/*/run") == [("POST", "/encrata/api/monitors/m1/run")]
        assert len(sandbox.requests()) == 2


@pytest.mark.parametrize("path, headers, status", [
    ("/encrata/api/monitors", {"Authorization": "Bearer k"}, 200),  # aiohttp and the vendor answer HEAD on GET
    ("/diligent/monitorings", {"X-API-KEY": "k"}, 200),
    ("/datafold/api/v1/monitors", {"Authorization": "Key k"}, 405),  # FastAPI does not
])
def test_head_on_a_listing_is_answered_as_the_vendors_server_does(path, headers, status):
    with Sandbox(SandboxConfig(api_key="k")) as sandbox:
        assert requests.head(sandbox.url + path, headers=headers, timeout=5).status_code == status
