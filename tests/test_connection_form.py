"""The connection forms' Test button, through Airflow's own API routes, against the offline sandbox.

Airflow's UI tests a connection from its row in Admin → Connections: it sends the connection as
the list endpoint returned it, with the password masked (``"***"``) and ``port:
Number(connection.port)``, which is ``0`` for a connection stored without a port (Airflow 3.3.2,
``airflow/ui/dist``). ``POST /api/v2/connections/test`` reuses the stored key only when host and
port match the stored ones, and 3.3.2 compares that ``0`` with the stored NULL as a different
port: 400 "The host or port to test differs from the stored connection" (fixed upstream by
apache/airflow#73298). Our forms therefore show the Port field, where 0 means "the Base URL's
port", and a connection stored with port 0 passes the check.

The test starts Airflow's FastAPI app in a subprocess of its own (a fresh AIRFLOW_HOME with a
migrated sqlite database, ``[core] test_connection = Enabled``, the simple auth manager with
everyone admin), creates connections with the bodies the UI's add form sends, then presses Test
the way the UI's row button does. This file is also that subprocess's script (``__main__``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

VENDORS = {"encrata": "Encrata", "diligent": "Diligent", "datafold": "Datafold"}
# What the UI's add form sends as extra: the conn-fields with their defaults.
FORM_EXTRAS = {
    "encrata": {"api_prefix": "/api", "timeout": 30, "max_retries": 4},
    "diligent": {"timeout": 30, "max_retries": 4},
    "datafold": {"timeout": 30, "max_retries": 4},
}
DIFFERENT_DESTINATION = "The host or port to test differs from the stored connection"


# ---- the subprocess: Airflow's app in-process, driven with FastAPI's TestClient ---------------


def ui_add_body(conn_id: str, conn_type: str, host: str, key: str, port_typed: str) -> dict:
    """The body of the UI's add form (Admin → Connections → +): empty fields are left out and the
    port field's text goes as a number."""
    body = {
        "connection_id": conn_id,
        "conn_type": conn_type,
        "host": host,
        "password": key,
        "extra": json.dumps(FORM_EXTRAS[conn_type]),
    }
    if port_typed != "":
        body["port"] = int(port_typed)
    return body


def ui_test_body(listed: dict) -> dict:
    """The body of the Test button on a connection's row, built from the list endpoint's item as
    the UI builds it (``port: Number(connection.port)``, so a missing port is 0)."""
    return {
        "conn_type": listed["conn_type"],
        "connection_id": listed["connection_id"],
        "description": listed["description"] or "",
        "extra": "{}" if listed["extra"] in ("", None) else listed["extra"],
        "host": listed["host"] or "",
        "login": listed["login"] or "",
        "password": listed["password"] or "",
        "port": int(listed["port"] or 0),
        "schema": listed["schema"] or "",
    }


def drive(sandbox_url: str, key: str) -> dict:
    from airflow.utils.db import initdb

    initdb()
    from fastapi.testclient import TestClient

    from airflow.api_fastapi.app import create_app

    client = TestClient(create_app())
    out: dict = {"meta": {}, "ui": {}, "rest": {}, "disabled": None}

    try:
        from airflow.api_fastapi.core_api.routes.public.connections import _same_endpoint

        out["airflow_accepts_port_0_for_none"] = bool(_same_endpoint(0, None))
    except ImportError:  # the check moved or went: assume a release with the upstream fix
        out["airflow_accepts_port_0_for_none"] = True

    meta = client.get("/ui/connections/hook_meta")
    meta.raise_for_status()
    for item in meta.json():
        if item["connection_type"] in VENDORS:
            out["meta"][item["connection_type"]] = item["standard_fields"]

    for conn_type in VENDORS:
        host = f"{sandbox_url}/{conn_type}"
        for variant, port_typed in (("port0", "0"), ("noport", "")):
            body = ui_add_body(f"{conn_type}_{variant}", conn_type, host, key, port_typed)
            created = client.post("/api/v2/connections", json=body)
            assert created.status_code == 201, created.text

    listed = client.get("/api/v2/connections", params={"limit": 100}).json()["connections"]
    for item in listed:
        answer = client.post("/api/v2/connections/test", json=ui_test_body(item))
        out["ui"][item["connection_id"]] = {"stored_port": item["port"], "status_code": answer.status_code,
                                            "body": answer.json()}

    # The REST form the README gives: id and type only, so the stored (or env) connection is used.
    for conn_type in VENDORS:
        os.environ[f"AIRFLOW_CONN_{conn_type.upper()}_ENV"] = json.dumps(
            {"conn_type": conn_type, "host": f"{sandbox_url}/{conn_type}", "password": key})
        for conn_id in (f"{conn_type}_noport", f"{conn_type}_env"):
            answer = client.post("/api/v2/connections/test", json={"connection_id": conn_id, "conn_type": conn_type})
            out["rest"][conn_id] = {"status_code": answer.status_code, "body": answer.json()}

    os.environ["AIRFLOW__CORE__TEST_CONNECTION"] = "Disabled"  # Airflow's default
    answer = client.post("/api/v2/connections/test", json={"connection_id": "encrata_port0", "conn_type": "encrata"})
    out["disabled"] = {"status_code": answer.status_code, "body": answer.json()}
    return out


# ---- the test ----------------------------------------------------------------------------------


def run_driver(tmp_path: Path, sandbox_url: str, key: str) -> tuple[dict, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("AIRFLOW_CONN_", "AIRFLOW__", "AIRFLOW_HOME", "AIRFLOW_CONFIG"))}
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
    })
    result = subprocess.run([sys.executable, __file__, sandbox_url, key], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    marker = next(line for line in reversed(result.stdout.splitlines()) if line.startswith("RESULT "))
    return json.loads(marker.removeprefix("RESULT ")), output


def test_test_button_works_for_each_connection_type_created_in_the_form(monitoring_sandbox, tmp_path):
    key = monitoring_sandbox.config.api_key
    out, output = run_driver(tmp_path, monitoring_sandbox.url, key)

    for conn_type, name in VENDORS.items():
        fields = out["meta"][conn_type]
        # The form shows Port, says what 0 means, and keeps its labels.
        assert fields["port"]["hidden"] is False
        assert "0 = the Base URL's port" in fields["port"]["placeholder"]
        assert fields["host"]["title"] == "Base URL" and fields["password"]["title"] == "API key"
        assert fields["login"]["hidden"] is True and fields["url_schema"]["hidden"] is True

        # Port 0 typed in the form: the row's Test button connects, with the stored (masked) key.
        port0 = out["ui"][f"{conn_type}_port0"]
        assert port0["stored_port"] == 0
        assert port0["status_code"] == 200, port0
        assert port0["body"] == {"status": True,
                                 "message": f"Connected to {name} at {monitoring_sandbox.url}/{conn_type}"}

        # Port left empty: refused by Airflow 3.3.2 before our hook runs; fine once Airflow has the fix.
        noport = out["ui"][f"{conn_type}_noport"]
        assert noport["stored_port"] is None
        if out["airflow_accepts_port_0_for_none"]:
            assert noport["status_code"] == 200 and noport["body"]["status"] is True, noport
        else:
            assert noport["status_code"] == 400 and DIFFERENT_DESTINATION in noport["body"]["detail"], noport

        # The REST form of the README: a stored connection without a port, and an AIRFLOW_CONN_* one.
        for conn_id in (f"{conn_type}_noport", f"{conn_type}_env"):
            assert out["rest"][conn_id]["status_code"] == 200, out["rest"][conn_id]
            assert out["rest"][conn_id]["body"]["status"] is True, out["rest"][conn_id]

    # Off by default: Airflow refuses every test until [core] test_connection = Enabled.
    assert out["disabled"]["status_code"] == 403
    assert "Testing connections is disabled" in out["disabled"]["body"]["detail"]
    # The sandbox's key went through the API and the hooks, and no answer or log line shows it.
    assert key not in json.dumps(out)
    assert key not in output


if __name__ == "__main__":
    print("RESULT " + json.dumps(drive(sys.argv[1], sys.argv[2])), flush=True)
