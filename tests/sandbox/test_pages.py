"""The read-only monitor pages behind the operators' monitor links (docs/sandbox.md, "Monitor pages")."""

from __future__ import annotations

import re
from typing import Any, Callable

import pytest
import requests

from airflow_provider_monitoring._vendors import monitor_url
from airflow_provider_monitoring.sandbox import OutcomeRule, Sandbox, SandboxConfig

NAME = '<script>alert("x")</script> & co'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"
ROW = re.compile(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>")


def encrata_monitor(sandbox: Sandbox) -> tuple[str, Callable[[], Any]]:
    """A monitor named NAME, and a function that triggers a run of it and gives the run id."""
    headers = {"Authorization": f"Bearer {sandbox.config.api_key}"}
    api = sandbox.vendor_url("encrata") + "/api/monitors"
    monitor = requests.post(api, json={"name": NAME, "monitor_type": "domain", "targets": ["example.com"]},
                            headers=headers, timeout=5).json()

    def trigger() -> Any:
        return requests.post(f"{api}/{monitor['id']}/run", json={}, headers=headers, timeout=5).json()["run_id"]

    return monitor["id"], trigger


def datafold_monitor(sandbox: Sandbox) -> tuple[int, Callable[[], Any]]:
    headers = {"Authorization": f"Key {sandbox.config.api_key}"}
    api = sandbox.vendor_url("datafold") + "/api/v1/monitors"
    body = {"name": NAME, "connection_id": 1, "schedule": {"type": "none"}, "tags": ["pages"]}
    monitor = requests.post(f"{api}/create/schema", json=body, headers=headers, timeout=5).json()

    def trigger() -> Any:
        return requests.post(f"{api}/{monitor['id']}/run", headers=headers, timeout=5).json()["run_id"]

    return monitor["id"], trigger


# vendor, how to make a monitor, its failure word, its success word, its states while a run is in progress
VENDORS = {
    "encrata": (encrata_monitor, "failed", "success", ("pending", "running")),
    "datafold": (datafold_monitor, "error", "ok", ("created", "queued", "checking")),
}


@pytest.fixture
def sandbox():
    with Sandbox(SandboxConfig(run_seconds=0.2)) as running:
        yield running


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_monitor_link_opens_a_page_of_the_runs_newest_first_without_a_key(sandbox, vendor):
    make, failure, success, in_progress = VENDORS[vendor]
    monitor_id, trigger = make(sandbox)
    rules = sandbox.config.rules
    rules.insert(0, OutcomeRule(vendor, "*", failure, seconds=0))
    failed = trigger()
    rules[0] = OutcomeRule(vendor, "*", success, seconds=0)
    succeeded = trigger()
    rules[0] = OutcomeRule(vendor, "*", success, seconds=60)
    running = trigger()

    # The operators' link, on the sandbox connection's base URL; a browser sends no key.
    page = requests.get(monitor_url(sandbox.vendor_url(vendor), monitor_id), timeout=5)

    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    rows = ROW.findall(page.text)
    assert [(run_id, state) for run_id, state, *_ in rows][1:] == [(str(succeeded), success), (str(failed), failure)]
    newest = rows[0]
    assert newest[0] == str(running) and newest[1] in in_progress
    assert newest[4] == "-" and all(row[2] != "-" and row[4] != "-" for row in rows[1:])  # finished or not yet
    assert ESCAPED in page.text and "<script>" not in page.text
    assert "schema" in page.text if vendor == "datafold" else "domain" in page.text  # the monitor's type


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_monitor_without_runs_says_so(sandbox, vendor):
    monitor_id, _ = VENDORS[vendor][0](sandbox)
    page = requests.get(f"{sandbox.vendor_url(vendor)}/monitors/{monitor_id}", timeout=5)
    assert page.status_code == 200 and "No runs yet." in page.text and not ROW.findall(page.text)


@pytest.mark.parametrize("vendor", VENDORS)
def test_an_unknown_monitor_gets_a_404_page_with_the_id_escaped(sandbox, vendor):
    page = requests.get(f"{sandbox.vendor_url(vendor)}/monitors/%3Cb%3E404", timeout=5)
    assert page.status_code == 404
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "&lt;b&gt;404" in page.text and "<b>" not in page.text


@pytest.mark.parametrize("vendor", VENDORS)
def test_nothing_else_is_loosened(sandbox, vendor):
    monitor_id, _ = VENDORS[vendor][0](sandbox)
    base = sandbox.vendor_url(vendor)
    api_paths = {
        "encrata": [f"/api/monitors/{monitor_id}", f"/api/agent/monitors/{monitor_id}",
                    f"/api/monitors/{monitor_id}/runs"],
        "datafold": [f"/api/v1/monitors/{monitor_id}", f"/api/v1/monitors/{monitor_id}/runs"],
    }[vendor]
    for path in api_paths:  # the API's own monitor paths still need the key
        reply = requests.get(base + path, timeout=5)
        assert reply.status_code == 401 and reply.headers["Content-Type"].startswith("application/json"), path
    page = f"/monitors/{monitor_id}"
    for method in ("POST", "PUT", "DELETE", "PATCH", "HEAD"):  # GET only
        assert requests.request(method, base + page, timeout=5).status_code == 401, method
    assert requests.get(f"{base}{page}/runs", timeout=5).status_code == 401  # nor a path below the page
    assert requests.get(f"{sandbox.url}/diligent/monitors/{monitor_id}", timeout=5).status_code == 401  # no Diligent page


def test_another_method_with_the_key_gets_the_vendors_405(sandbox):
    monitor_id, _ = encrata_monitor(sandbox)
    reply = requests.post(f"{sandbox.vendor_url('encrata')}/monitors/{monitor_id}", timeout=5,
                          headers={"Authorization": f"Bearer {sandbox.config.api_key}"})
    assert reply.status_code == 405 and reply.json() == {"error": "method not allowed"}
