"""EncrataHook against a real HTTP server on 127.0.0.1: what goes over the wire, and what comes back."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timezone
from typing import Any, Callable

import pytest

from airflow_provider_monitoring._http.errors import (
    AmbiguousRequestError,
    AuthenticationError,
    ConfigurationError,
    InsufficientCreditsError,
    NotFoundError,
    UnexpectedResponseError,
)
from airflow_provider_monitoring.hooks.encrata import EncrataHook
from tests.conftest import API_KEY, Reply, Seen

MONITOR = {
    "id": "a1b2c3d4-0000-4000-8000-000000000001",
    "name": "VIPs",
    "frequency": "monthly",
    "change_detection": "diff_only",
    "status": "active",
    "tracked_fields": [],
    "email_count": 2,
    "last_run_at": None,
    "next_run_at": "2026-06-01T08:00:00Z",
    "created_at": "2026-05-01T08:00:00Z",
    "not_in_the_docs": {"kept": True},
}


# ---- helpers --------------------------------------------------------------------------------


@pytest.fixture
def hook(api, connection) -> EncrataHook:
    return EncrataHook(encrata_conn_id=connection("encrata_std", "encrata", api.url))


@pytest.fixture
def agent_hook(api, connection) -> EncrataHook:
    return EncrataHook(encrata_conn_id=connection("encrata_agent", "encrata", api.url, api_prefix="/api/agent"))


def header(seen: Seen, name: str) -> str | None:
    return next((v for k, v in seen.headers.items() if k.lower() == name.lower()), None)


def assert_sent(seen: Seen, method: str, path: str, json: Any = ..., query: dict[str, str] | None = None) -> None:
    """One request as it went over the wire: method, path, auth, User-Agent, and optionally body and query."""
    assert (seen.method, seen.path) == (method, path)
    assert header(seen, "Authorization") == f"Bearer {API_KEY}"
    assert header(seen, "User-Agent").startswith("airflow-provider-monitoring/")
    if json is not ...:
        assert header(seen, "Content-Type") == "application/json"
        assert seen.json == json
    if query is not None:
        assert {k: v[0] for k, v in seen.query.items()} == query


def runs(count: int) -> list[dict]:
    return [
        {"id": f"run_{n:03d}", "status": "success", "total_records": 3, "changes_detected": n % 2, "x_extra": n}
        for n in range(count)
    ]


def paged(key: str, items: list[dict]) -> Callable[[Seen], Reply]:
    """A listing served the way Encrata pages it: limit/offset in, {key: [...], "total": N} out."""

    def respond(seen: Seen) -> Reply:
        offset, limit = int(seen.q("offset")), int(seen.q("limit"))
        return Reply(json={key: items[offset:offset + limit], "total": len(items)})

    return respond


def offsets(api, path: str) -> list[tuple[str, str]]:
    return [(s.q("offset"), s.q("limit")) for s in api.requests_to("GET", path)]


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- construction ---------------------------------------------------------------------------


def test_constructor_reads_nothing_and_sets_the_conn_id(api):
    hook = EncrataHook(encrata_conn_id="not_defined_anywhere")
    assert hook.encrata_conn_id == hook.conn_id == "not_defined_anywhere"
    assert EncrataHook().encrata_conn_id == "encrata_default"
    assert (EncrataHook.conn_name_attr, EncrataHook.default_conn_name) == ("encrata_conn_id", "encrata_default")
    assert (EncrataHook.conn_type, EncrataHook.hook_name) == ("encrata", "Encrata")
    assert api.seen == []


# ---- create_monitor -------------------------------------------------------------------------


def test_create_email_monitor_sends_only_what_was_set(api, hook):
    api.on("POST", "/api/monitors", Reply(201, json=MONITOR))
    monitor = hook.create_monitor("VIPs", emails=["satya@microsoft.com", "a@b.co"])
    assert monitor == MONITOR
    [seen] = api.seen
    assert_sent(seen, "POST", "/api/monitors",
                json={"name": "VIPs", "monitor_type": "email", "emails": ["satya@microsoft.com", "a@b.co"]})


def test_create_domain_monitor_on_agent_family(api, agent_hook):
    created = {"id": "mon_dom", "name": "Domains", "monitor_type": "domain", "frequency": "weekly"}
    api.on("POST", "/api/agent/monitors", Reply(201, json=created))
    monitor = agent_hook.create_monitor(
        "Domains", monitor_type="domain", targets=["example.com", "mysite.io"],
        frequency="weekly", change_detection="full_refresh", data_source_type="csv",
    )
    assert monitor == created
    assert_sent(api.seen[0], "POST", "/api/agent/monitors", json={
        "name": "Domains", "monitor_type": "domain", "targets": ["example.com", "mysite.io"],
        "frequency": "weekly", "change_detection": "full_refresh", "data_source_type": "csv",
    })


def test_create_from_contact_list_needs_no_targets(api, hook):
    api.on("POST", "/api/monitors", Reply(201, json={"id": "mon_1", "name": "Phones"}))
    hook.create_monitor("Phones", monitor_type="phone", data_source_type="list", data_source_ref="list_9")
    assert api.seen[0].json == {
        "name": "Phones", "monitor_type": "phone", "data_source_type": "list", "data_source_ref": "list_9",
    }


def test_create_fails_closed_on_a_body_without_id(api, hook):
    api.on("POST", "/api/monitors", Reply(201, json={"name": "VIPs"}))
    with pytest.raises(UnexpectedResponseError, match="'id'"):
        hook.create_monitor("VIPs", emails=["a@b.co"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "", "emails": ["a@b.co"]}, "name"),
        ({"name": None, "emails": ["a@b.co"]}, "name"),
        ({"name": "x", "monitor_type": "sms", "targets": ["1"]}, "monitor_type"),
        ({"name": "x"}, "needs 'emails'"),
        ({"name": "x", "monitor_type": "domain"}, "needs 'targets'"),
        ({"name": "x", "monitor_type": "domain", "emails": ["a@b.co"]}, "in 'targets', not 'emails'"),
        ({"name": "x", "targets": ["a@b.co"]}, "in 'emails', not 'targets'"),
        ({"name": "x", "emails": "a@b.co"}, "list of strings"),
        ({"name": "x", "emails": []}, "must not be empty"),
        ({"name": "x", "emails": ["a@b.co", ""]}, "each item of emails"),
        ({"name": "x", "emails": ["a@b.co"], "frequency": "daily"}, "frequency"),
        ({"name": "x", "emails": ["a@b.co"], "change_detection": "all"}, "change_detection"),
        ({"name": "x", "emails": ["a@b.co"], "data_source_type": "xml"}, "data_source_type"),
        ({"name": "x", "data_source_type": "list"}, "needs data_source_ref"),
        ({"name": "x", "data_source_type": "list", "data_source_ref": " "}, "data_source_ref"),
        ({"name": "x", "emails": ["a@b.co"], "data_source_ref": "list_1"}, "only with data_source_type 'list'"),
    ],
)
def test_create_refuses_bad_input_before_sending(api, hook, kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        hook.create_monitor(**kwargs)
    assert api.seen == []


def test_create_after_a_502_returns_the_one_monitor_that_appeared(api, hook):
    api.on("POST", "/api/monitors", Reply(502, json={"error": "upstream provider failed"}))
    ours = {"id": "mon_new", "name": "VIPs", "created_at": now_iso()}
    api.on("GET", "/api/monitors", {"monitors": [
        {"id": "mon_old", "name": "VIPs", "created_at": "2020-01-01T00:00:00Z"},
        ours,
        {"id": "mon_other", "name": "Other", "created_at": now_iso()},
    ]})
    assert hook.create_monitor("VIPs", emails=["a@b.co"]) == ours
    assert len(api.requests_to("POST", "/api/monitors")) == 1
    assert len(api.requests_to("GET", "/api/monitors")) == 1


@pytest.mark.parametrize("matches", [0, 2])
def test_create_after_a_502_raises_unless_exactly_one_match(api, hook, matches):
    api.on("POST", "/api/monitors", Reply(502, json={"error": "upstream provider failed"}))
    api.on("GET", "/api/monitors", [{"id": f"m{n}", "name": "VIPs", "created_at": now_iso()} for n in range(matches)])
    with pytest.raises(AmbiguousRequestError, match=f"{matches} matching objects"):
        hook.create_monitor("VIPs", emails=["a@b.co"])
    assert len(api.requests_to("POST", "/api/monitors")) == 1


# ---- list / get / update / delete -----------------------------------------------------------


@pytest.mark.parametrize("envelope", ["bare", "wrapped"], ids=["docs-bare-array", "sdk-monitors-object"])
def test_list_monitors_takes_both_envelopes(api, hook, envelope):
    listing = [MONITOR, {**MONITOR, "id": "mon_2", "monitor_type": "ip"}]
    api.on("GET", "/api/monitors", listing if envelope == "bare" else {"monitors": listing})
    assert hook.list_monitors() == listing
    assert_sent(api.seen[0], "GET", "/api/monitors", query={})


def test_list_monitors_fails_closed_on_another_shape(api, hook):
    api.on("GET", "/api/monitors", {"items": []})
    with pytest.raises(UnexpectedResponseError, match="'monitors'"):
        hook.list_monitors()


def test_get_monitor_on_agent_family_encodes_the_id(api, agent_hook):
    api.on("GET", "/api/agent/monitors/mon%2F1%20x", MONITOR)
    assert agent_hook.get_monitor("mon/1 x") == MONITOR
    [seen] = api.seen
    assert_sent(seen, "GET", "/api/agent/monitors/mon%2F1%20x")


def test_get_monitor_falls_back_to_agent_family_on_404(api, hook):
    # /api/monitors/{id} is not routed: the test server answers 404 {"error": "no route ..."}.
    api.on("GET", "/api/agent/monitors/m1", MONITOR)
    assert hook.get_monitor("m1") == MONITOR
    assert [(s.method, s.path) for s in api.seen] == [("GET", "/api/monitors/m1"), ("GET", "/api/agent/monitors/m1")]


def test_get_monitor_fails_closed_without_id(api, agent_hook):
    api.on("GET", "/api/agent/monitors/m1", {"name": "no id"})
    with pytest.raises(UnexpectedResponseError):
        agent_hook.get_monitor("m1")


def test_fallback_gives_up_after_the_other_family_and_names_both_paths(api, hook):
    with pytest.raises(NotFoundError) as caught:
        hook.delete_monitor("gone")
    assert [s.path for s in api.seen] == ["/api/monitors/gone", "/api/agent/monitors/gone"]
    assert "/api/agent/monitors/gone" in str(caught.value)
    assert "DELETE /api/monitors/gone answered HTTP 404 as well" in str(caught.value)


def test_fallback_is_not_used_for_other_statuses(api, hook):
    api.on("GET", "/api/monitors/m1", Reply(401, json={"error": "unauthorized"}))
    with pytest.raises(AuthenticationError):
        hook.get_monitor("m1")
    assert len(api.seen) == 1


def test_fallback_is_not_used_for_operations_documented_on_both_families(api, hook):
    with pytest.raises(NotFoundError):
        hook.trigger_run("m1")
    with pytest.raises(NotFoundError):
        list(hook.list_monitor_runs("m1"))
    assert [s.path for s in api.seen] == ["/api/monitors/m1/run", "/api/monitors/m1/runs"]


def test_update_monitor_sends_only_set_fields_and_tracked_fields_as_a_string(api, hook):
    updated = {**MONITOR, "frequency": "quarterly", "tracked_fields": ["company", "job_role"]}
    api.on("PATCH", "/api/monitors/m1", updated)
    result = hook.update_monitor("m1", frequency="quarterly", tracked_fields=["company", "job_role"])
    assert result == updated
    [seen] = api.seen
    assert_sent(seen, "PATCH", "/api/monitors/m1",
                json={"frequency": "quarterly", "tracked_fields": '["company","job_role"]'})
    assert isinstance(seen.json["tracked_fields"], str)


def test_update_with_every_field_and_empty_tracked_fields(api, hook):
    api.on("PATCH", "/api/monitors/m1", MONITOR)
    hook.update_monitor("m1", name="New", frequency="weekly", change_detection="full_refresh",
                        status="paused", tracked_fields=[])
    assert api.seen[0].json == {"name": "New", "frequency": "weekly", "change_detection": "full_refresh",
                                "status": "paused", "tracked_fields": "[]"}


def test_update_falls_back_to_standard_family_on_405(api, agent_hook):
    api.on("PATCH", "/api/agent/monitors/m1", Reply(405, json={"c": 405, "m": "method not allowed"}))
    api.on("PATCH", "/api/monitors/m1", MONITOR)
    assert agent_hook.update_monitor("m1", name="VIPs") == MONITOR
    assert [(s.method, s.path, s.json) for s in api.seen] == [
        ("PATCH", "/api/agent/monitors/m1", {"name": "VIPs"}),
        ("PATCH", "/api/monitors/m1", {"name": "VIPs"}),
    ]


@pytest.mark.parametrize(("method", "status"), [("pause_monitor", "paused"), ("resume_monitor", "active")])
def test_pause_and_resume_patch_the_status(api, hook, method, status):
    api.on("PATCH", "/api/monitors/m1", {**MONITOR, "status": status})
    assert getattr(hook, method)("m1")["status"] == status
    assert_sent(api.seen[0], "PATCH", "/api/monitors/m1", json={"status": status})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "nothing to update"),
        ({"name": ""}, "name"),
        ({"frequency": "daily"}, "frequency"),
        ({"change_detection": "sometimes"}, "change_detection"),
        ({"status": "failed"}, "status"),
        ({"tracked_fields": "company"}, "list of strings"),
        ({"tracked_fields": ["company", 3]}, "each item of tracked_fields"),
    ],
)
def test_update_refuses_bad_input_before_sending(api, hook, kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        hook.update_monitor("m1", **kwargs)
    assert api.seen == []


def test_delete_monitor_accepts_204_and_200(api, agent_hook):
    api.on("DELETE", "/api/agent/monitors/m1", Reply(204))
    api.on("DELETE", "/api/agent/monitors/m2", {"deleted": True, "id": "m2"})
    assert agent_hook.delete_monitor("m1") is None
    assert agent_hook.delete_monitor("m2") == {"deleted": True, "id": "m2"}
    assert_sent(api.seen[0], "DELETE", "/api/agent/monitors/m1")


def test_delete_monitor_falls_back_to_agent_family(api, hook):
    api.on("DELETE", "/api/monitors/m1", Reply(405, json={"error": "Method not allowed"}))
    api.on("DELETE", "/api/agent/monitors/m1", Reply(204))
    assert hook.delete_monitor("m1") is None
    assert [s.path for s in api.seen] == ["/api/monitors/m1", "/api/agent/monitors/m1"]


# ---- runs -----------------------------------------------------------------------------------


def test_trigger_run_posts_an_empty_object(api, hook):
    started = {"run_id": "b2c3d4e5", "status": "running", "message": "Run started for 25 emails"}
    api.on("POST", "/api/monitors/m%201/run", Reply(202, json=started))
    assert hook.trigger_run("m 1") == started
    assert_sent(api.seen[0], "POST", "/api/monitors/m%201/run", json={})


def test_trigger_run_fails_closed_without_run_id(api, hook):
    api.on("POST", "/api/monitors/m1/run", Reply(202, json={"status": "queued", "message": "Run queued."}))
    with pytest.raises(UnexpectedResponseError, match="run_id"):
        hook.trigger_run("m1")


def test_trigger_run_out_of_credits_is_sent_once(api, hook):
    api.on("POST", "/api/monitors/m1/run", Reply(402, json={"error": "Insufficient credits"}))
    with pytest.raises(InsufficientCreditsError, match="Insufficient credits"):
        hook.trigger_run("m1")
    assert len(api.seen) == 1


@pytest.mark.parametrize("reply", [Reply(502, json={"error": "bad gateway"}), Reply(drop=True)], ids=["502", "reset"])
def test_trigger_run_is_neither_resent_nor_looked_up_after_an_ambiguous_failure(api, hook, reply):
    api.on("POST", "/api/monitors/m1/run", reply)
    api.on("GET", "/api/monitors/m1/runs", {"runs": runs(1), "total": 1})
    with pytest.raises(AmbiguousRequestError):
        hook.trigger_run("m1")
    assert [(s.method, s.path) for s in api.seen] == [("POST", "/api/monitors/m1/run")]


def test_list_monitor_runs_walks_three_pages(api, hook):
    everything = runs(250)
    api.on("GET", "/api/monitors/m1/runs", paged("runs", everything))
    assert list(hook.list_monitor_runs("m1")) == everything
    assert offsets(api, "/api/monitors/m1/runs") == [("0", "100"), ("100", "100"), ("200", "100")]
    assert_sent(api.seen[0], "GET", "/api/monitors/m1/runs")


def test_get_run_finds_a_run_on_page_two_and_stops(api, hook):
    everything = runs(250)
    api.on("GET", "/api/monitors/m1/runs", paged("runs", everything))
    assert hook.get_run("m1", "run_120") == everything[120]
    assert offsets(api, "/api/monitors/m1/runs") == [("0", "100"), ("100", "100")]


def test_get_run_raises_not_found_after_the_whole_listing(api, agent_hook):
    api.on("GET", "/api/agent/monitors/m1/runs", paged("runs", runs(250)))
    with pytest.raises(NotFoundError) as caught:
        agent_hook.get_run("m1", "run_999")
    message = str(caught.value)
    assert "'run_999'" in message and "'m1'" in message and "250 runs" in message
    assert "HTTP" not in message
    assert len(api.seen) == 3


@pytest.mark.parametrize("args", [("", "r1"), ("m1", ""), ("m1", None)])
def test_get_run_refuses_missing_ids_before_sending(api, hook, args):
    with pytest.raises(ConfigurationError):
        hook.get_run(*args)
    assert api.seen == []


def test_list_runs_filters_by_type(api, agent_hook):
    listing = [{**run, "monitor_id": "m1", "monitor_name": "VIP Phone Tracker"} for run in runs(3)]
    api.on("GET", "/api/agent/monitoring/runs", {"runs": listing, "total": 3})
    assert list(agent_hook.list_runs(monitor_type="phone")) == listing
    assert_sent(api.seen[0], "GET", "/api/agent/monitoring/runs", query={"type": "phone", "limit": "100", "offset": "0"})


def test_list_runs_without_type_sends_no_filter(api, hook):
    api.on("GET", "/api/monitoring/runs", paged("runs", runs(150)))
    assert len(list(hook.list_runs())) == 150
    assert [s.query.get("type") for s in api.seen] == [None, None]


def test_list_runs_refuses_an_unknown_type(api, hook):
    with pytest.raises(ConfigurationError, match="monitor_type"):
        hook.list_runs(monitor_type="sms")
    assert api.seen == []


# ---- results --------------------------------------------------------------------------------

RAW_RESULTS = [
    {"email": "satya@microsoft.com", "data": {"first_name": "Satya", "job_role": "CEO"},
     "changes": {"job_role": {"old": "CTO", "new": "CEO"}}, "has_changes": True, "id": "s1"},
    {"email": "elon@x.com", "data": {"company": "Tesla"},
     "changes": {"company": ["SpaceX", "Tesla"], "odd": "kept as is"}, "has_changes": True, "id": "s2", "extra": 1},
    {"email": "nobody@x.com", "data": {}, "changes": None, "has_changes": False, "id": "s3"},
]
NORMALISED = [
    RAW_RESULTS[0],
    {**RAW_RESULTS[1], "changes": {"company": {"old": "SpaceX", "new": "Tesla"}, "odd": "kept as is"}},
    RAW_RESULTS[2],
]


@pytest.mark.parametrize("envelope", ["bare", "wrapped"], ids=["page-bare-array", "sdk-results-object"])
def test_get_run_results_takes_both_envelopes_and_normalises_changes(api, hook, envelope):
    path = "/api/monitors/m1/runs/r1/results"
    api.on("GET", path, RAW_RESULTS if envelope == "bare" else {"results": RAW_RESULTS, "total": 3})
    assert list(hook.get_run_results("m1", "r1")) == NORMALISED
    assert len(api.seen) == 1
    assert_sent(api.seen[0], "GET", path, query={"limit": "100", "offset": "0"})


def test_get_run_results_sends_changes_only_when_true(api, agent_hook):
    path = "/api/agent/monitors/m1/runs/r1/results"
    api.on("GET", path, {"results": RAW_RESULTS[:2], "total": 2})
    assert list(agent_hook.get_run_results("m1", "r1", changes_only=True)) == NORMALISED[:2]
    assert_sent(api.seen[0], "GET", path, query={"changes_only": "true", "limit": "100", "offset": "0"})


def test_get_run_results_refuses_a_non_boolean_changes_only(api, hook):
    with pytest.raises(ConfigurationError, match="changes_only"):
        hook.get_run_results("m1", "r1", changes_only="yes")
    assert api.seen == []


def test_list_results_filters_walks_pages_and_normalises(api, hook):
    records = [{**RAW_RESULTS[1], "id": f"s{n}", "run_id": "r1", "monitor_id": "m1"} for n in range(150)]
    api.on("GET", "/api/monitoring/results", paged("results", records))
    got = list(hook.list_results(monitor_type="company", changes_only=True))
    assert [r["id"] for r in got] == [f"s{n}" for n in range(150)]
    assert all(r["changes"]["company"] == {"old": "SpaceX", "new": "Tesla"} and r["extra"] == 1 for r in got)
    assert [{k: v[0] for k, v in s.query.items()} for s in api.seen] == [
        {"type": "company", "changes_only": "true", "limit": "100", "offset": "0"},
        {"type": "company", "changes_only": "true", "limit": "100", "offset": "100"},
    ]


def test_list_results_refuses_an_unknown_type(api, hook):
    with pytest.raises(ConfigurationError, match="monitor_type"):
        hook.list_results(monitor_type="people")
    assert api.seen == []


CSV = b"email,has_changes,job_role_old,job_role_new\nsatya@microsoft.com,true,CTO,CEO\n"


def test_download_run_results_streams_to_a_file(api, hook, tmp_path):
    path = "/api/monitors/m1/runs/r1/results/download"
    api.on("GET", path, Reply(body=CSV, headers={"Content-Type": "text/csv"}))
    target = tmp_path / "results.csv"
    assert hook.download_run_results("m1", "r1", target) == {"path": str(target), "bytes": len(CSV)}
    assert target.read_bytes() == CSV
    assert_sent(api.seen[0], "GET", path)
    assert os.listdir(tmp_path) == ["results.csv"]


def test_download_falls_back_to_standard_family(api, agent_hook, tmp_path):
    api.on("GET", "/api/monitors/m1/runs/r1/results/download", Reply(body=CSV, headers={"Content-Type": "text/csv"}))
    target = tmp_path / "out.csv"
    assert agent_hook.download_run_results("m1", "r1", str(target))["bytes"] == len(CSV)
    assert target.read_bytes() == CSV
    assert [s.path for s in api.seen] == [
        "/api/agent/monitors/m1/runs/r1/results/download",
        "/api/monitors/m1/runs/r1/results/download",
    ]


def test_failed_download_leaves_no_file(api, hook, tmp_path):
    with pytest.raises(NotFoundError):
        hook.download_run_results("m1", "r1", tmp_path / "out.csv")
    assert len(api.seen) == 2
    assert os.listdir(tmp_path) == []


def test_download_refuses_a_missing_directory_before_sending(api, hook, tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        hook.download_run_results("m1", "r1", tmp_path / "nope" / "out.csv")
    with pytest.raises(ConfigurationError, match="directory"):
        hook.download_run_results("m1", "r1", tmp_path)
    assert api.seen == []


# ---- async twins ----------------------------------------------------------------------------


async def test_alist_monitor_runs_walks_three_pages(api, hook):
    everything = runs(250)
    api.on("GET", "/api/monitors/m1/runs", paged("runs", everything))
    async with hook:
        got = [run async for run in hook.alist_monitor_runs("m1")]
    assert got == everything
    assert offsets(api, "/api/monitors/m1/runs") == [("0", "100"), ("100", "100"), ("200", "100")]
    assert_sent(api.seen[0], "GET", "/api/monitors/m1/runs")


async def test_aget_run_finds_a_run_on_page_two(api, agent_hook):
    everything = runs(250)
    api.on("GET", "/api/agent/monitors/m%2F1/runs", paged("runs", everything))
    async with agent_hook:
        assert await agent_hook.aget_run("m/1", "run_150") == everything[150]
    assert offsets(api, "/api/agent/monitors/m%2F1/runs") == [("0", "100"), ("100", "100")]


async def test_aget_run_raises_not_found_after_the_whole_listing(api, hook):
    api.on("GET", "/api/monitors/m1/runs", {"runs": runs(5), "total": 5})
    async with hook:
        with pytest.raises(NotFoundError, match="'run_999' is not among the 5 runs"):
            await hook.aget_run("m1", "run_999")


async def test_async_methods_need_async_with(api, hook):
    with pytest.raises(RuntimeError, match="async with"):
        await hook.aget_run("m1", "r1")
    assert api.seen == []


# ---- connection, errors, test_connection ----------------------------------------------------


def test_test_connection_succeeds_with_a_free_listing(api, hook):
    api.on("GET", "/api/monitors", [])
    ok, message = hook.test_connection()
    assert ok is True and api.url in message
    assert_sent(api.seen[0], "GET", "/api/monitors")


def test_test_connection_uses_the_agent_family(api, agent_hook):
    api.on("GET", "/api/agent/monitors", {"monitors": []})
    assert agent_hook.test_connection()[0] is True
    assert [s.path for s in api.seen] == ["/api/agent/monitors"]


def test_test_connection_bad_key(api, hook):
    api.on("GET", "/api/monitors", Reply(401, json={"error": f"unauthorized key {API_KEY}"}))
    ok, message = hook.test_connection()
    assert ok is False
    assert "401" in message and "unauthorized" in message
    assert API_KEY not in message
    assert len(api.seen) == 1


def test_agent_shaped_401_names_status_and_message_but_not_the_key(api, agent_hook):
    api.on("GET", "/api/agent/monitors", Reply(401, json={"c": 401, "m": "bad key"}))
    with pytest.raises(AuthenticationError) as caught:
        agent_hook.list_monitors()
    assert "401" in str(caught.value) and "bad key" in str(caught.value)
    assert API_KEY not in str(caught.value)
    ok, message = agent_hook.test_connection()
    assert ok is False and "401" in message and "bad key" in message and API_KEY not in message


def test_test_connection_unreachable_host(connection):
    hook = EncrataHook(encrata_conn_id=connection("encrata_down", "encrata", f"http://127.0.0.1:{closed_port()}"))
    ok, message = hook.test_connection()
    assert ok is False
    assert "no response" in message and API_KEY not in message


@pytest.mark.parametrize("prefix", ["/v1", "api/agent", "/api/agents"])
def test_unknown_api_prefix_is_refused_before_sending(api, connection, prefix):
    hook = EncrataHook(encrata_conn_id=connection("encrata_bad", "encrata", api.url, api_prefix=prefix))
    with pytest.raises(ConfigurationError, match="'/api' or '/api/agent'"):
        hook.list_monitors()
    ok, message = hook.test_connection()
    assert ok is False and "'/api' or '/api/agent'" in message
    assert api.seen == []


def test_api_prefix_with_a_trailing_slash_is_the_same_family(api, connection):
    hook = EncrataHook(encrata_conn_id=connection("encrata_slash", "encrata", api.url, api_prefix="/api/agent/"))
    api.on("GET", "/api/agent/monitors", [])
    assert hook.list_monitors() == []
    assert [s.path for s in api.seen] == ["/api/agent/monitors"]


@pytest.mark.parametrize("use_async", [False, True])
async def test_a_listed_run_without_status_fails_closed(api, hook, use_async):
    api.on("GET", "/api/monitors/m1/runs", {"runs": [{"id": "run_1", "total_records": 3}], "total": 1})
    with pytest.raises(UnexpectedResponseError, match="'status'"):
        if use_async:
            async with hook:
                await hook.aget_run("m1", "run_1")
        else:
            hook.get_run("m1", "run_1")


def test_a_download_gets_the_usual_file_permissions(api, hook, tmp_path):
    import os
    import stat

    from airflow_provider_monitoring._export import current_umask

    api.on("GET", "/api/monitors/m1/runs/r1/results/download", Reply(body="email\na@b.co\n", headers={"Content-Type": "text/csv"}))
    hook.download_run_results("m1", "r1", tmp_path / "out.csv")
    assert stat.S_IMODE(os.stat(tmp_path / "out.csv").st_mode) == 0o666 & ~current_umask()
