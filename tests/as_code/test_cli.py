"""``airflow-monitoring plan|apply SPEC``: the command a shell or CI runs, with its exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tomllib
from importlib import import_module
from pathlib import Path

from airflow_provider_monitoring.as_code.cli import main
from tests.as_code.specs import datafold, diligent, encrata, write_spec

ROOT = Path(__file__).resolve().parents[2]


def command(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "airflow_provider_monitoring.as_code", *args], capture_output=True,
                          text=True, env=env or os.environ, timeout=120, cwd=ROOT)


def test_the_console_script_is_the_cli():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, name = scripts["airflow-monitoring"].partition(":")
    assert getattr(import_module(module), name) is main


def test_plan_exits_2_with_changes_then_apply_then_0_without(monitoring_sandbox, tmp_path):
    path = write_spec(tmp_path / "monitors.yaml", [encrata(0), diligent(0), datafold(0)])
    planned = command("plan", str(path))
    assert planned.returncode == 2, planned.stderr
    assert "+ create    domains-0: Domains 0" in planned.stdout
    assert planned.stdout.rstrip().endswith("Plan: 3 to create, 0 to update, 0 to replace, 0 to pause, "
                                            "0 to adopt, 0 to delete; 0 unchanged.")
    assert [r for r in monitoring_sandbox.requests() if r[0] != "GET"] == []

    applied = command("apply", str(path))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete: 3 created; 0 unchanged." in applied.stdout

    again = command("plan", str(path), "--json")
    assert again.returncode == 0
    body = json.loads(again.stdout)
    assert body["has_changes"] is False and body["summary"]["unchanged"] == 3
    assert {action["action"] for action in body["actions"]} == {"unchanged"}
    key = monitoring_sandbox.config.api_key
    assert all(key not in text for text in (planned.stdout, planned.stderr, applied.stdout, applied.stderr,
                                            again.stdout, again.stderr))


def test_a_saved_plan_is_applied_or_refused_when_stale(monitoring_sandbox, tmp_path):
    path = write_spec(tmp_path / "monitors.yaml", [encrata(1)])
    saved = tmp_path / "plan.json"
    out = io.StringIO()
    assert main(["plan", str(path), "--out", str(saved)], out=out) == 2
    assert f"Plan saved to {saved}" in out.getvalue()
    assert main(["apply", str(path), "--plan", str(saved)], out=io.StringIO()) == 0

    err = io.StringIO()  # the same saved plan once more: the monitor now exists, so it is stale
    assert main(["apply", str(path), "--plan", str(saved)], out=io.StringIO(), err=err) == 1
    assert "the saved plan is stale: the vendors changed since it was saved" in err.getvalue()


def test_errors_exit_1_with_a_message_and_no_traceback(monitoring_sandbox, tmp_path):
    path = write_spec(tmp_path / "monitors.yaml", [{**encrata(0), "vendor": "pagerduty"}])
    result = command("plan", str(path))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"error: {path}:") and "unknown vendor 'pagerduty'" in result.stderr
    assert "Traceback" not in result.stderr and monitoring_sandbox.requests() == []


def test_conn_id_options_pick_other_connections(monitoring_sandbox, connection, tmp_path):
    connection("encrata_team", "encrata", monitoring_sandbox.vendor_url("encrata"),
               password=monitoring_sandbox.config.api_key)
    connection("encrata_default", "encrata", monitoring_sandbox.vendor_url("encrata"), password="wrong-key")
    path = write_spec(tmp_path / "monitors.yaml", [encrata(2)])
    err = io.StringIO()
    assert main(["plan", str(path)], out=io.StringIO(), err=err) == 1
    assert "401" in err.getvalue() and "wrong-key" not in err.getvalue()
    assert main(["plan", str(path), "--encrata-conn-id", "encrata_team"], out=io.StringIO()) == 2


def test_a_connection_not_defined_is_an_error_that_says_how_to_define_it(tmp_path):
    path = write_spec(tmp_path / "monitors.yaml", [encrata(3)])
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIRFLOW_CONN_")}
    result = command("plan", str(path), env=env)
    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: The conn_id `encrata_default` isn't defined")
    assert "AIRFLOW_CONN_<ID>" in result.stderr and "--encrata-conn-id" in result.stderr
