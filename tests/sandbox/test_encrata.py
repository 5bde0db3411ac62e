"""The Encrata emulator, driven end to end by the real EncrataHook (plus raw requests for the wire shapes)."""

from __future__ import annotations

import asyncio
import csv
import json
import time
from typing import Any

import pytest
import requests

from airflow_provider_monitoring._http.errors import (
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    NotFoundError,
)
from airflow_provider_monitoring.hooks.encrata import EncrataHook, RunNotFoundError
from airflow_provider_monitoring.sandbox import FaultRule, OutcomeRule, SandboxConfig
from airflow_provider_monitoring.sandbox.encrata import target_profile

IN_PROGRESS = ("pending", "queued", "running")
AGENT = "/api/agent"


def pick_emails(changed: int, unchanged: int) -> list[str]:
    """Addresses whose (deterministic) profile has a change, then ones without, mixed."""
    with_change, without = [], []
    for n in range(200):
        email = f"person{n}@example.com"
        (with_change if target_profile("email", email)[1] else without).append(email)
    return [*with_change[:changed], *without[:unchanged]]


EMAILS = pick_emails(changed=2, unchanged=3)
CHANGED = {email for email in EMAILS if target_profile("email", email)[1]}


@pytest.fixture
def monitoring_sandbox_config(request: pytest.FixtureRequest, tmp_path) -> SandboxConfig:
    """Short runs; ``indirect`` parametrisation with a dict seeds the Encrata state file."""
    config = SandboxConfig(run_seconds=0.3)
    seed = getattr(request, "param", None)
    if seed is not None:
        state_file = tmp_path / "sandbox-state.json"
        state_file.write_text(json.dumps({"encrata": seed}))
        config.state_file = str(state_file)
    return config


def make_hook(sandbox, monkeypatch, prefix: str = "/api", key: str | None = None) -> EncrataHook:
    """The default connection for ``/api``; another JSON connection for another family or key."""
    if prefix == "/api" and key is None:
        return EncrataHook()
    spec = {"conn_type": "encrata", "host": sandbox.vendor_url("encrata"),
            "password": key or sandbox.config.api_key, "extra": {"api_prefix": prefix}}
    monkeypatch.setenv("AIRFLOW_CONN_ENCRATA_OTHER", json.dumps(spec))
    return EncrataHook(encrata_conn_id="encrata_other")


def call(sandbox, method: str, path: str, key: str | None = None, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {key or sandbox.config.api_key}"}
    return requests.request(method, sandbox.vendor_url("encrata") + path, headers=headers, timeout=5, **kwargs)


def wait(hook: EncrataHook, monitor_id: str, run_id: str, limit: float = 5.0) -> dict:
    deadline = time.monotonic() + limit
    while True:
        run = hook.get_run(monitor_id, run_id)
        if run["status"] not in IN_PROGRESS:
            return run
        assert time.monotonic() < deadline, f"run still {run['status']} after {limit} s"
        time.sleep(0.05)


def started_run(hook: EncrataHook, name: str, **kwargs: Any) -> tuple[str, str]:
    monitor = hook.create_monitor(name, **kwargs)
    return monitor["id"], hook.trigger_run(monitor["id"])["run_id"]


# ---- the hook, end to end ---------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/api", AGENT])
def test_every_hook_method_end_to_end(monitoring_sandbox, monkeypatch, tmp_path, prefix):
    hook = make_hook(monitoring_sandbox, monkeypatch, prefix)
    assert hook.test_connection()[0]
    monitor = hook.create_monitor("VIPs", emails=EMAILS, frequency="weekly")
    assert monitor["monitor_type"] == "email" and monitor["email_count"] == len(EMAILS)
    assert monitor["status"] == "active" and monitor["change_detection"] == "diff_only"
    monitor_id = monitor["id"]
    assert [m["id"] for m in hook.list_monitors()] == [monitor_id]
    assert hook.get_monitor(monitor_id)["frequency"] == "weekly"

    updated = hook.update_monitor(monitor_id, name="VIP people", frequency="quarterly",
                                  tracked_fields=["job_role", "company"])
    assert (updated["name"], updated["frequency"], updated["tracked_fields"]) == (
        "VIP people", "quarterly", ["job_role", "company"])
    paused = hook.pause_monitor(monitor_id)
    assert paused["status"] == "paused" and paused["next_run_at"] is None

    triggered = hook.trigger_run(monitor_id)  # a paused monitor still takes a manual run
    assert triggered["status"] == "running" and "5 emails" in triggered["message"]
    run_id = triggered["run_id"]
    assert hook.get_run(monitor_id, run_id)["status"] in ("pending", "running")
    run = wait(hook, monitor_id, run_id)
    assert run["status"] == "success"
    assert (run["total_records"], run["changes_detected"], run["credits_used"]) == (5, len(CHANGED), 5)
    assert run["completed_at"] and run["started_at"]

    records = list(hook.get_run_results(monitor_id, run_id))
    assert [r["email"] for r in records] == EMAILS
    assert {r["email"] for r in records if r["has_changes"]} == CHANGED
    for record in records:
        assert set(record["data"]) >= {"first_name", "company", "job_role"}
        if record["has_changes"]:
            assert record["changes"]["job_role"]["new"] == record["data"]["job_role"]
        else:
            assert record["changes"] is None
    assert {r["email"] for r in hook.get_run_results(monitor_id, run_id, changes_only=True)} == CHANGED

    download = hook.download_run_results(monitor_id, run_id, tmp_path / "results.csv")
    with open(download["path"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["email"] for row in rows] == EMAILS and download["bytes"] > 0
    assert {row["email"] for row in rows if row["has_changes"] == "true"} == CHANGED

    [listed] = [r for r in hook.list_runs(monitor_type="email") if r["id"] == run_id]
    assert (listed["monitor_id"], listed["monitor_name"]) == (monitor_id, "VIP people")
    assert list(hook.list_runs(monitor_type="domain")) == []
    changed = list(hook.list_results(monitor_type="email", changes_only=True))
    assert {r["email"] for r in changed} == CHANGED and {r["run_id"] for r in changed} == {run_id}

    resumed = hook.resume_monitor(monitor_id)
    assert resumed["status"] == "active" and resumed["next_run_at"] and resumed["last_run_at"]
    assert hook.delete_monitor(monitor_id) is None  # 204
    with pytest.raises(NotFoundError):
        hook.get_monitor(monitor_id)
    assert list(hook.list_runs()) == []


async def test_async_twins_wait_for_the_run(monitoring_sandbox):
    hook = EncrataHook()
    monitor_id, run_id = started_run(hook, "async", monitor_type="domain", targets=["example.com", "mysite.io"])
    async with hook:
        for _ in range(100):
            run = await hook.aget_run(monitor_id, run_id)
            if run["status"] not in IN_PROGRESS:
                break
            await asyncio.sleep(0.05)
        assert run["status"] == "success"
        assert [r["id"] async for r in hook.alist_monitor_runs(monitor_id)] == [run_id]


def test_statuses_advance_pending_then_running_then_the_outcome(monitoring_sandbox):
    # Two seconds: pending for the first half second, running until the end.
    monitoring_sandbox.config.rules.append(OutcomeRule("encrata", "slow", "success", seconds=2.0))
    hook = EncrataHook()
    monitor_id, run_id = started_run(hook, "slow", emails=EMAILS[:1])
    pending = hook.get_run(monitor_id, run_id)
    assert (pending["status"], pending["started_at"], pending["completed_at"]) == ("pending", None, None)
    assert list(hook.get_run_results(monitor_id, run_id)) == []  # nothing before the run ends
    time.sleep(0.6)
    running = hook.get_run(monitor_id, run_id)
    assert running["status"] == "running" and running["started_at"] and running["completed_at"] is None


def test_outcome_rules_give_every_terminal_status(monitoring_sandbox):
    rules = monitoring_sandbox.config.rules
    rules.append(OutcomeRule("encrata", "fail-*", "failed", seconds=0.2))  # by monitor name
    rules.append(OutcomeRule("encrata", "*@completed.io", "completed", seconds=0.2))  # by target
    rules.append(OutcomeRule("*", "weird", "exploded", seconds=0.2))  # an unknown word, reported as-is
    hook = EncrataHook()
    started = {
        "success": started_run(hook, "plain", emails=EMAILS),
        "failed": started_run(hook, "fail-me", emails=EMAILS),
        "completed": started_run(hook, "done", emails=["ceo@completed.io"]),
        "exploded": started_run(hook, "weird", emails=EMAILS),
    }
    for expected, (monitor_id, run_id) in started.items():
        assert wait(hook, monitor_id, run_id)["status"] == expected
    assert len(list(hook.get_run_results(*started["completed"]))) == 1
    for outcome in ("failed", "exploded"):  # only a successful run has results
        assert list(hook.get_run_results(*started[outcome])) == []
        assert hook.get_run(*started[outcome])["total_records"] == 0


def test_tracked_fields_limit_what_counts_as_a_change(monitoring_sandbox):
    hook = EncrataHook()
    monitor_id = hook.create_monitor("tracked", emails=EMAILS)["id"]
    hook.update_monitor(monitor_id, tracked_fields=["company"])  # the changing field is job_role
    run = wait(hook, monitor_id, hook.trigger_run(monitor_id)["run_id"])
    assert run["changes_detected"] == 0
    assert not any(r["has_changes"] for r in hook.get_run_results(monitor_id, run["id"]))


def test_all_runs_and_results_filter_by_type_and_changes(monitoring_sandbox):
    hook = EncrataHook()
    email_ids = started_run(hook, "people", emails=EMAILS)
    domain_ids = started_run(hook, "domains", monitor_type="domain", targets=["example.com", "mysite.io"])
    for ids in (email_ids, domain_ids):
        wait(hook, *ids)
    assert [r["id"] for r in hook.list_runs()] == [domain_ids[1], email_ids[1]]  # newest first
    assert [r["id"] for r in hook.list_runs(monitor_type="domain")] == [domain_ids[1]]
    domains = list(hook.list_results(monitor_type="domain"))
    assert [r["email"] for r in domains] == ["example.com", "mysite.io"]
    assert domains[0]["changes"]["registrar"]["new"] == domains[0]["data"]["registrar"]
    assert {r["monitor_id"] for r in domains} == {domain_ids[0]} and all(r["created_at"] for r in domains)
    assert len(list(hook.list_results())) == len(EMAILS) + 2
    changed = list(hook.list_results(changes_only=True))
    assert {r["email"] for r in changed} == CHANGED | {"example.com"}


# ---- auth, validation, unknown ids ------------------------------------------------------------


@pytest.mark.parametrize(("prefix", "body"), [("/api", {"error": "unauthorized"}), (AGENT, {"c": 401, "m": "bad key"})])
def test_a_wrong_key_gets_401_in_the_family_shape(monitoring_sandbox, monkeypatch, prefix, body):
    hook = make_hook(monitoring_sandbox, monkeypatch, prefix, key="not-the-key")
    with pytest.raises(AuthenticationError) as caught:
        hook.list_monitors()
    assert "401" in str(caught.value) and "not-the-key" not in str(caught.value)
    ok, message = hook.test_connection()
    assert not ok and "401" in message
    for headers in ({}, {"Authorization": "Token sandbox-api-key"}, {"Authorization": "Bearer wrong"}):
        reply = requests.get(f"{monitoring_sandbox.vendor_url('encrata')}{prefix}/monitors", headers=headers, timeout=5)
        assert (reply.status_code, reply.json()) == (401, body)
    assert requests.get(f"{monitoring_sandbox.vendor_url('encrata')}/api/health", timeout=5).status_code == 200


INVALID_CREATES = [
    ({"emails": ["a@b.co"]}, "name"),
    ({"name": "x", "monitor_type": "fax", "targets": ["1"]}, "monitor_type"),
    ({"name": "x"}, "emails is required"),
    ({"name": "x", "monitor_type": "domain"}, "targets is required"),
    ({"name": "x", "emails": []}, "non-empty array"),
    ({"name": "x", "emails": ["not-an-address"]}, "invalid email"),
    ({"name": "x", "monitor_type": "ip", "targets": ["999.1.1.1"]}, "invalid ip"),
    ({"name": "x", "targets": ["a@b.co"]}, "'emails', not 'targets'"),
    ({"name": "x", "emails": ["a@b.co"], "frequency": "daily"}, "frequency"),
    ({"name": "x", "emails": ["a@b.co"], "change_detection": "sometimes"}, "change_detection"),
    ({"name": "x", "data_source_type": "list"}, "data_source_ref"),
    ({"name": "x", "data_source_type": "list", "data_source_ref": "nope"}, "contact list"),
]


@pytest.mark.parametrize(("body", "words"), INVALID_CREATES)
def test_create_validation_errors_in_both_shapes(monitoring_sandbox, body, words):
    standard = call(monitoring_sandbox, "POST", "/api/monitors", json=body)
    assert standard.status_code == 400 and words in standard.json()["error"]
    agent = call(monitoring_sandbox, "POST", f"{AGENT}/monitors", json=body)
    assert agent.status_code == 400 and agent.json()["c"] == 400 and words in agent.json()["m"]
    assert call(monitoring_sandbox, "GET", "/api/monitors").json() == []


def test_other_validation_errors(monitoring_sandbox):
    hook = EncrataHook()
    with pytest.raises(BadRequestError, match="invalid email target"):  # checked by the server, not the hook
        hook.create_monitor("x", emails=["no-at-sign"])
    monitor_id = hook.create_monitor("ok", emails=EMAILS[:1])["id"]
    run_id = hook.trigger_run(monitor_id)["run_id"]
    bad = [
        ("PATCH", f"/api/monitors/{monitor_id}", {"json": {"tracked_fields": ["company"]}}, "JSON-encoded string"),
        ("PATCH", f"/api/monitors/{monitor_id}", {"json": {"tracked_fields": '["shoe_size"]'}}, "unknown tracked"),
        ("PATCH", f"/api/monitors/{monitor_id}", {"json": {"emails": ["a@b.co"]}}, "cannot update emails"),
        ("PATCH", f"/api/monitors/{monitor_id}", {"json": {"status": "failed"}}, "status"),
        ("PATCH", f"/api/monitors/{monitor_id}", {"json": {"frequency": None}}, "frequency"),
        ("PATCH", f"/api/monitors/{monitor_id}", {"json": {}}, "nothing to update"),
        ("POST", "/api/monitors", {"data": "{not json"}, "invalid JSON"),
        ("GET", f"/api/monitors/{monitor_id}/runs", {"params": {"limit": 0}}, "limit"),
        ("GET", f"/api/monitors/{monitor_id}/runs", {"params": {"offset": "x"}}, "offset"),
        ("GET", "/api/monitoring/runs", {"params": {"type": "fax"}}, "type"),
        ("GET", f"/api/monitors/{monitor_id}/runs/{run_id}/results", {"params": {"changes_only": "maybe"}},
         "changes_only"),
    ]
    for method, path, kwargs, words in bad:
        reply = call(monitoring_sandbox, method, path, **kwargs)
        assert reply.status_code == 400 and words in reply.json()["error"], (method, path, reply.text)


def test_unknown_ids_are_404_in_the_family_shape(monitoring_sandbox):
    hook = EncrataHook()
    with pytest.raises(NotFoundError):
        hook.get_monitor("no-such-monitor")
    monitor_id, run_id = started_run(hook, "one", emails=EMAILS[:1])
    other_id = hook.create_monitor("two", emails=EMAILS[:1])["id"]
    with pytest.raises(RunNotFoundError):
        hook.get_run(monitor_id, "no-such-run")
    with pytest.raises(NotFoundError):
        list(hook.get_run_results(other_id, run_id))  # a run of another monitor
    with pytest.raises(NotFoundError):
        hook.trigger_run("no-such-monitor")
    assert call(monitoring_sandbox, "GET", "/api/monitors/nope").json() == {"error": "monitor not found"}
    assert call(monitoring_sandbox, "DELETE", f"{AGENT}/monitors/nope").json() == {"c": 404, "m": "monitor not found"}
    assert call(monitoring_sandbox, "GET", f"{AGENT}/nothing-here").json() == {"c": 404, "m": "not found"}
    assert call(monitoring_sandbox, "PUT", "/api/monitors").status_code == 405


# ---- envelopes and pagination -----------------------------------------------------------------


def test_envelopes_and_status_codes_by_family(monitoring_sandbox):
    created = call(monitoring_sandbox, "POST", f"{AGENT}/monitors", json={"name": "wire", "emails": EMAILS})
    assert created.status_code == 201
    monitor_id = created.json()["id"]
    assert [m["id"] for m in call(monitoring_sandbox, "GET", "/api/monitors").json()] == [monitor_id]
    assert [m["id"] for m in call(monitoring_sandbox, "GET", f"{AGENT}/monitors").json()["monitors"]] == [monitor_id]
    trigger = call(monitoring_sandbox, "POST", f"/api/monitors/{monitor_id}/run", json={})
    assert trigger.status_code == 202 and set(trigger.json()) == {"run_id", "status", "message"}
    run_id = trigger.json()["run_id"]
    wait(EncrataHook(), monitor_id, run_id)
    runs = call(monitoring_sandbox, "GET", f"/api/monitors/{monitor_id}/runs").json()
    assert runs["total"] == 1 and "monitor_id" not in runs["runs"][0]  # the short form
    results = f"/monitors/{monitor_id}/runs/{run_id}/results"
    bare = call(monitoring_sandbox, "GET", "/api" + results).json()
    assert isinstance(bare, list) and len(bare) == len(EMAILS)  # the endpoint page's form
    assert call(monitoring_sandbox, "GET", "/api" + results, params={"limit": 2}).json()["total"] == len(EMAILS)
    agent = call(monitoring_sandbox, "GET", AGENT + results).json()
    assert len(agent["results"]) == agent["total"] == len(EMAILS)
    for prefix in ("/api", AGENT):
        download = call(monitoring_sandbox, "GET", f"{prefix}{results}/download")
        assert download.headers["Content-Type"].startswith("text/csv")
        assert download.text.splitlines()[0].startswith("email,has_changes,")
    deleted = call(monitoring_sandbox, "DELETE", f"/api/monitors/{monitor_id}")
    assert (deleted.status_code, deleted.content) == (204, b"")


def test_pagination_across_pages(monitoring_sandbox):
    monitoring_sandbox.config.rules.append(OutcomeRule("encrata", "many", "success", seconds=0))
    hook = EncrataHook()
    targets = [f"site{n}.example.com" for n in range(230)]
    monitor_id = hook.create_monitor("many", monitor_type="domain", targets=targets)["id"]
    run_ids = [hook.trigger_run(monitor_id)["run_id"] for _ in range(105)]
    listed = [run["id"] for run in hook.list_monitor_runs(monitor_id)]
    assert listed == run_ids[::-1]  # two pages of 100, newest first
    assert len([r for r in hook.list_runs() if r["monitor_id"] == monitor_id]) == 105
    records = list(hook.get_run_results(monitor_id, run_ids[0]))  # three pages of 100
    assert [r["email"] for r in records] == targets and len({r["id"] for r in records}) == 230
    runs_path = f"/api/monitors/{monitor_id}/runs"
    first = call(monitoring_sandbox, "GET", runs_path).json()
    assert (len(first["runs"]), first["total"]) == (20, 105)  # default limit
    assert len(call(monitoring_sandbox, "GET", runs_path, params={"limit": 500}).json()["runs"]) == 100  # clamped
    last = call(monitoring_sandbox, "GET", runs_path, params={"limit": 50, "offset": 100}).json()
    assert [r["id"] for r in last["runs"]] == run_ids[4::-1]
    results = call(monitoring_sandbox, "GET", "/api/monitoring/results", params={"offset": 30000}).json()
    assert (results["results"], results["total"]) == ([], 230 * 105)


# ---- variants seeded through the state file, credits, contact lists ---------------------------

SEEDED = {
    "variants": {"id_style": "prefixed", "trigger_status": "queued", "changes_style": "pair", "delete_status": 200},
    "credits": 5,
    "lists": {
        "list_1": {"name": "Domains", "list_type": "domain", "targets": ["example.com", "mysite.io", "acme.org"]},
    },
}


@pytest.mark.parametrize("monitoring_sandbox_config", [SEEDED], indirect=True)
def test_variants_seeded_from_the_state_file(monitoring_sandbox, monitoring_sandbox_config):
    hook = EncrataHook()
    monitor = hook.create_monitor("from list", monitor_type="domain", data_source_type="list",
                                  data_source_ref="list_1")
    monitor_id = monitor["id"]
    assert monitor_id.startswith("mon_") and monitor["email_count"] == 3 and monitor["data_source_ref"] == "list_1"
    triggered = hook.trigger_run(monitor_id)
    assert triggered["run_id"].startswith("run_") and triggered["status"] == "queued"
    with pytest.raises(InsufficientCreditsError):  # 3 of 5 credits spent, 3 more needed
        hook.trigger_run(monitor_id)
    out_of_credits = call(monitoring_sandbox, "POST", f"/api/monitors/{monitor_id}/run")
    assert (out_of_credits.status_code, out_of_credits.json()) == (402, {"error": "Insufficient credits"})
    run = wait(hook, monitor_id, triggered["run_id"])
    assert run["credits_used"] == 3
    path = f"/api/monitors/{monitor_id}/runs/{run['id']}/results"
    raw = {r["email"]: r["changes"] for r in call(monitoring_sandbox, "GET", path).json()}
    assert raw["example.com"]["registrar"][1] == target_profile("domain", "example.com")[0]["registrar"]  # [old, new]
    normalised = {r["email"]: r["changes"] for r in hook.get_run_results(monitor_id, run["id"])}
    assert set(normalised["example.com"]["registrar"]) == {"old", "new"} and normalised["mysite.io"] is None
    with open(monitoring_sandbox_config.state_file) as handle:
        saved = json.load(handle)["encrata"]
    assert saved["credits"] == 2 and monitor_id in saved["monitors"]
    assert hook.delete_monitor(monitor_id) == {"status": "deleted", "id": monitor_id}  # the 200 form


# ---- faults -----------------------------------------------------------------------------------


def test_a_retry_after_fault_is_absorbed_by_the_hook(monitoring_sandbox):
    hook = EncrataHook()
    monitor_id, run_id = started_run(hook, "fault", emails=EMAILS[:1])
    fault = FaultRule("retry_after", method="GET", path="/encrata/api/monitors/*/runs", times=1, retry_after=0.2)
    monitoring_sandbox.config.faults.append(fault)
    began = time.monotonic()
    assert hook.get_run(monitor_id, run_id)["id"] == run_id
    assert fault.times == 0 and time.monotonic() - began >= 0.2
