"""DiligentHook against a real HTTP server on 127.0.0.1 (tests/conftest.py): what goes over the
wire, what comes back, and what never leaves because the input is wrong."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from tests.conftest import API_KEY, Reply, Seen, closed_port_url

from airflow_provider_monitoring._http.client import USER_AGENT
from airflow_provider_monitoring._http.errors import (
    AmbiguousRequestError,
    BadRequestError,
    ConfigurationError,
    NotFoundError,
    UnexpectedResponseError,
)
from airflow_provider_monitoring.hooks.diligent import DiligentHook, MonitoringNotFoundError

SITE = "https://shop.example.com"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
TOKEN = "eyJjdXN0b21lcklkIjp7IlMiOiJjMSJ9fQ==+/&x"  # Base64 with characters that need URL-encoding


def iso(moment: datetime) -> str:
    """A whole-second UTC time as the hook sends it."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def monitoring(ident: str, website: str = SITE, created_at: str = "2023-11-07T05:31:56Z", **extra: Any) -> dict:
    return {
        "id": ident, "website": website, "customer_id": "cust-1", "checks": ["high_risk_mcc"],
        "frequency": "every_2_weeks", "is_active": True, "running_state": "IDLE",
        "created_at": created_at, **extra,
    }


def execution(ident: str, monitoring_id: str = "m-1", when: str = "2026-01-02T00:00:00.000Z") -> dict:
    return {"id": ident, "monitoring_id": monitoring_id, "website": SITE, "execution_time": when,
            "external_id": None, "alert_count": 0}


def cursor(pages: list[list[Any]], tokens: list[str] | None = None, **top: Any) -> Callable[[Seen], Reply]:
    """A responder serving ``pages`` in order: page i ends with token i, the last with null. A
    token that was never handed out gets a 400, so a mangled cursor fails the test."""
    tokens = tokens or [f"{TOKEN}{i}" for i in range(len(pages) - 1)]

    def respond(seen: Seen) -> Reply:
        sent = seen.q("next_token")
        index = 0 if sent is None else (tokens.index(sent) + 1 if sent in tokens else None)
        if index is None:
            return Reply(400, json={"error": f"bad next_token {sent!r}"})
        next_token = tokens[index] if index < len(tokens) else None
        return Reply(json={"items": pages[index], "next_token": next_token, **top})

    return respond


@pytest.fixture
def hook(api, connection):
    connection("diligent_default", "diligent", api.url)
    hook = DiligentHook()
    yield hook
    hook.close()


def assert_common_headers(seen: Seen) -> None:
    assert seen.headers["X-API-KEY"] == API_KEY
    assert "Authorization" not in seen.headers
    assert seen.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("airflow-provider-monitoring/")


# ---- construction ---------------------------------------------------------------------------


def test_constructor_is_lazy_and_names_the_connection(api):
    # No connection defined at all: building the hook must not look one up nor send anything.
    hook = DiligentHook(diligent_conn_id="nowhere")
    assert hook.diligent_conn_id == "nowhere" and hook.conn_id == "nowhere"
    assert DiligentHook().diligent_conn_id == "diligent_default"
    assert (DiligentHook.conn_name_attr, DiligentHook.default_conn_name) == ("diligent_conn_id", "diligent_default")
    assert (DiligentHook.conn_type, DiligentHook.hook_name) == ("diligent", "Diligent")
    assert api.seen == []


def test_named_connection_is_used(api, connection):
    connection("diligent_other", "diligent", api.url, password="other-key")
    api.on("GET", "/monitorings", [])
    assert list(DiligentHook(diligent_conn_id="diligent_other").list_monitorings()) == []
    assert api.seen[0].headers["X-API-KEY"] == "other-key"


# ---- create_monitoring ----------------------------------------------------------------------


def test_create_monitoring_sends_the_documented_body(hook, api):
    created = monitoring("m-1", external_id="ext-1", future_field={"kept": True})
    api.on("POST", "/monitorings", Reply(201, json=created))
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)

    result = hook.create_monitoring(
        SITE, ["high_risk_mcc", "non_operational_website"], frequency="Every_3_Weeks", run_now=False,
        expires_at=expires, external_id="ext-1", skip_duplicate=True,
    )

    assert result == created  # unknown fields kept
    (seen,) = api.seen
    assert (seen.method, seen.path, seen.query) == ("POST", "/monitorings", {})
    assert_common_headers(seen)
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.json == {
        "website": SITE,
        "checks": ["high_risk_mcc", "non_operational_website"],
        "frequency": "every_3_weeks",
        "run_now": False,
        "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "external_id": "ext-1",
        "skip_duplicate": True,
    }


def test_create_monitoring_defaults_always_send_frequency_and_run_now(hook, api):
    api.on("POST", "/monitorings", Reply(201, json=monitoring("m-1")))
    hook.create_monitoring(SITE, ["catalog_contain_loan_flipping_indicators", "high_risk_diligent_classification"])
    assert api.seen[0].json == {
        "website": SITE,
        "checks": ["catalog_contain_loan_flipping_indicators", "high_risk_diligent_classification"],
        "frequency": "every_2_weeks",
        "run_now": True,
    }


def test_create_monitoring_sends_expires_at_string_in_utc(hook, api):
    api.on("POST", "/monitorings", Reply(201, json=monitoring("m-1")))
    local = (datetime.now(timezone.utc) + timedelta(days=60)).replace(microsecond=0)
    as_text = local.astimezone(timezone(timedelta(hours=2))).isoformat()  # "+02:00"
    hook.create_monitoring(SITE, ["high_risk_mcc"], frequency="weekly", expires_at=as_text)
    assert api.seen[0].json["expires_at"] == local.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("frequency", "days"), [("weekly", 8), ("every_2_weeks", 15), ("every_3_weeks", 22), ("every_4_weeks", 29)]
)
def test_expires_at_just_over_one_period_is_accepted(hook, api, frequency, days):
    api.on("POST", "/monitorings", Reply(201, json=monitoring("m-1")))
    hook.create_monitoring(SITE, ["high_risk_mcc"], frequency=frequency,
                           expires_at=datetime.now(timezone.utc) + timedelta(days=days))
    assert len(api.requests_to("POST", "/monitorings")) == 1


def _soon(days: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(days=days)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"website": "shop.example.com"}, "http\\(s\\) URL"),
        ({"website": "ftp://shop.example.com"}, "http\\(s\\) URL"),
        ({"website": "https://"}, "http\\(s\\) URL"),
        ({"website": "http://[::1"}, "http\\(s\\) URL"),
        ({"website": ""}, "website must be a non-empty string"),
        ({"website": 42}, "website must be a non-empty string"),
        ({"checks": []}, "checks must not be empty"),
        ({"checks": "high_risk_mcc"}, "checks must be a list"),
        ({"checks": ["high_risk_mcc", "made_up_check"]}, "unknown checks value 'made_up_check'"),
        ({"checks": ["high_risk_mcc", "high_risk_mcc"]}, "'high_risk_mcc' more than once"),
        ({"checks": [1]}, "each item of checks"),
        ({"frequency": "daily"}, "unknown frequency 'daily'"),
        ({"frequency": 7}, "frequency must be a string"),
        ({"run_now": "yes"}, "run_now must be True or False"),
        ({"expires_at": "next tuesday"}, "expires_at must be an ISO 8601"),
        ({"expires_at": 1_900_000_000}, "expires_at must be a datetime or an ISO 8601"),
        ({"expires_at": _soon(-1)}, "expires_at must be in the future"),
        ({"expires_at": _soon(10)}, "at least 14 days ahead"),
        ({"expires_at": _soon(20), "frequency": "every_4_weeks"}, "at least 28 days ahead"),
        ({"external_id": ""}, "external_id must be a non-empty string"),
        ({"external_id": 5}, "external_id must be a non-empty string"),
        ({"skip_duplicate": "true"}, "skip_duplicate must be True or False"),
    ],
)
def test_create_monitoring_refuses_bad_input_before_sending(hook, api, kwargs, match):
    arguments = {"website": SITE, "checks": ["high_risk_mcc"], **kwargs}
    with pytest.raises(ConfigurationError, match=match):
        hook.create_monitoring(**arguments)
    assert api.seen == []


def test_create_monitoring_fails_closed_on_a_body_without_id(hook, api):
    api.on("POST", "/monitorings", Reply(201, json={"website": SITE}))
    with pytest.raises(UnexpectedResponseError, match="'id'"):
        hook.create_monitoring(SITE, ["high_risk_mcc"])


def test_create_monitoring_400_is_not_retried_and_carries_the_vendor_message(hook, api):
    api.on("POST", "/monitorings", Reply(400, json={"error": "monitor already exists"}))
    with pytest.raises(BadRequestError, match="HTTP 400 on POST /monitorings: monitor already exists"):
        hook.create_monitoring(SITE, ["high_risk_mcc"])
    assert len(api.seen) == 1


@pytest.mark.parametrize("failure", [Reply(502, json={"error": "bad gateway"}), Reply(drop=True)], ids=["502", "reset"])
def test_ambiguous_create_is_not_resent_and_the_new_monitoring_is_found(hook, api, failure):
    api.on("POST", "/monitorings", failure)
    ours = monitoring("m-new", website=SITE + "/", created_at=now_iso())  # stored form differs: sanitised
    api.on("GET", "/monitorings", [
        monitoring("m-old", created_at="2023-11-07T05:31:56Z"),  # same site, created long before
        monitoring("m-elsewhere", website="https://other.example.com", created_at=now_iso()),
        ours,
    ])

    assert hook.create_monitoring(SITE, ["high_risk_mcc"]) == ours

    assert len(api.requests_to("POST", "/monitorings")) == 1
    (lookup,) = api.requests_to("GET", "/monitorings")
    assert lookup.q("website") == SITE and lookup.q("page_size") == "100"


def test_ambiguous_create_matches_on_external_id_when_given(hook, api):
    api.on("POST", "/monitorings", Reply(504))
    ours = monitoring("m-ours", external_id="ext-7", created_at=now_iso())
    api.on("GET", "/monitorings", {"items": [
        monitoring("m-theirs", external_id="ext-other", created_at=now_iso()), ours,
    ], "next_token": None})
    assert hook.create_monitoring(SITE, ["high_risk_mcc"], external_id="ext-7") == ours
    assert len(api.requests_to("POST", "/monitorings")) == 1


@pytest.mark.parametrize("found", [0, 2])
def test_ambiguous_create_raises_unless_exactly_one_match(hook, api, found):
    api.on("POST", "/monitorings", Reply(502))
    api.on("GET", "/monitorings", [monitoring(f"m-{i}", created_at=now_iso()) for i in range(found)])
    with pytest.raises(AmbiguousRequestError, match=f"{found} matching objects found afterwards"):
        hook.create_monitoring(SITE, ["high_risk_mcc"])
    assert len(api.requests_to("POST", "/monitorings")) == 1


# ---- bulk_create_monitorings ----------------------------------------------------------------


def test_bulk_create_sends_validated_items_and_returns_the_body(hook, api):
    body = {"is_successful": True, "items": [monitoring("m-1"), monitoring("m-2", "https://b.example")],
            "duplicates": None}
    api.on("POST", "/monitorings/bulk-create", Reply(200, json=body))
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=40)

    result = hook.bulk_create_monitorings([
        {"website": SITE, "checks": ["high_risk_mcc"]},
        {"website": "https://b.example", "checks": ["non_operational_website"], "frequency": "WEEKLY",
         "run_now": False, "expires_at": expires, "external_id": "b", "skip_duplicate": True},
    ])

    assert result == body
    (seen,) = api.seen
    assert (seen.method, seen.path) == ("POST", "/monitorings/bulk-create")
    assert_common_headers(seen)
    assert seen.json == [
        {"website": SITE, "checks": ["high_risk_mcc"], "frequency": "every_2_weeks", "run_now": True},
        {"website": "https://b.example", "checks": ["non_operational_website"], "frequency": "weekly",
         "run_now": False, "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "external_id": "b",
         "skip_duplicate": True},
    ]


def test_bulk_create_400_lists_the_duplicates(hook, api):
    api.on("POST", "/monitorings/bulk-create", Reply(400, json={
        "error": "Duplicate websites", "duplicates": [{"website": SITE, "index": 0}],
    }))
    with pytest.raises(BadRequestError) as caught:
        hook.bulk_create_monitorings([{"website": SITE, "checks": ["high_risk_mcc"]}])
    assert "Duplicate websites" in str(caught.value)
    assert f"duplicates: {SITE} (index 0)" in str(caught.value)
    assert len(api.seen) == 1


def test_bulk_create_is_not_resent_after_an_ambiguous_failure(hook, api):
    api.on("POST", "/monitorings/bulk-create", Reply(502))
    with pytest.raises(AmbiguousRequestError):
        hook.bulk_create_monitorings([{"website": SITE, "checks": ["high_risk_mcc"]}])
    assert len(api.seen) == 1


def test_bulk_create_fails_closed_on_a_non_object_body(hook, api):
    api.on("POST", "/monitorings/bulk-create", Reply(200, body="OK"))
    with pytest.raises(UnexpectedResponseError, match="the body was not JSON: OK; the vendor accepted the request"):
        hook.bulk_create_monitorings([{"website": SITE, "checks": ["high_risk_mcc"]}])
    assert len(api.requests_to("POST", "/monitorings/bulk-create")) == 1  # a create is never re-sent


_ONE = {"website": SITE, "checks": ["high_risk_mcc"]}


@pytest.mark.parametrize(
    ("monitorings", "match"),
    [
        ([], "1 to 200 items"),
        ([{"website": f"https://s{i}.example", "checks": ["high_risk_mcc"]} for i in range(201)], "got 201"),
        (_ONE, "must be a list"),
        ("https://a.example", "must be a list"),
        ([_ONE, "https://b.example"], "monitorings\\[1\\] must be a dict"),
        ([{"website": SITE}], "monitorings\\[0\\] is missing 'checks'"),
        ([{**_ONE, "colour": "red"}], "unknown field\\(s\\) 'colour'"),
        ([_ONE, {"website": "https://b.example", "checks": ["nope"]}], "unknown monitorings\\[1\\].checks value 'nope'"),
        ([_ONE, {"website": "b.example", "checks": ["high_risk_mcc"]}], "monitorings\\[1\\].website must be an http"),
        ([_ONE, {**_ONE, "frequency": "hourly"}], "unknown monitorings\\[1\\].frequency 'hourly'"),
        ([_ONE, {**_ONE, "expires_at": _soon(3)}], "monitorings\\[1\\].expires_at must be at least 14 days"),
        ([_ONE, {"website": "https://b.example", "checks": ["high_risk_mcc"]}, {**_ONE, "website": "HTTPS://Shop.Example.com/"}],
         "monitorings\\[2\\].website .* repeats monitorings\\[0\\]"),
    ],
)
def test_bulk_create_refuses_bad_input_before_sending(hook, api, monitorings, match):
    with pytest.raises(ConfigurationError, match=match):
        hook.bulk_create_monitorings(monitorings)
    assert api.seen == []


# ---- list_monitorings / get_monitoring ------------------------------------------------------


def test_list_monitorings_walks_every_page_repeating_filters_and_the_token(hook, api):
    pages = [[monitoring("m-1"), monitoring("m-2")], [monitoring("m-3")], [monitoring("m-4")]]
    api.on("GET", "/monitorings", cursor(pages))

    result = list(hook.list_monitorings(state="FAILED", sort_by="next_run", sort_direction="asc"))

    assert [m["id"] for m in result] == ["m-1", "m-2", "m-3", "m-4"]
    requests = api.requests_to("GET", "/monitorings")
    assert [r.q("next_token") for r in requests] == [None, f"{TOKEN}0", f"{TOKEN}1"]  # sent back unchanged
    for seen in requests:
        assert_common_headers(seen)
        assert {k: v for k, v in seen.query.items() if k != "next_token"} == {
            "state": ["FAILED"], "sort_by": ["next_run"], "sort_direction": ["asc"], "page_size": ["100"],
        }


def test_list_monitorings_accepts_a_bare_array_as_one_page(hook, api):
    api.on("GET", "/monitorings", [monitoring("m-1"), monitoring("m-2")])
    assert [m["id"] for m in hook.list_monitorings(website=SITE, sort_by="id")] == ["m-1", "m-2"]
    (seen,) = api.seen
    assert seen.query == {"website": [SITE], "sort_by": ["id"], "page_size": ["100"]}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"state": "IDLE", "website": SITE}, "state and website cannot be combined"),
        ({"state": ""}, "state must be a non-empty string"),
        ({"website": "  "}, "website must be a non-empty string"),
        ({"sort_by": "created_at"}, "unknown sort_by 'created_at'"),
        ({"sort_direction": "up"}, "unknown sort_direction 'up'"),
    ],
)
def test_list_monitorings_refuses_bad_filters_before_sending(hook, api, kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        hook.list_monitorings(**kwargs)  # raised on the call itself, not on first iteration
    assert api.seen == []


def test_get_monitoring_walks_the_listing_until_the_id(hook, api):
    api.on("GET", "/monitorings", cursor([[monitoring("m-1")], [monitoring("m-2", extra="kept")], [monitoring("m-3")]]))
    assert hook.get_monitoring("m-2") == monitoring("m-2", extra="kept")
    assert len(api.seen) == 2  # stopped once found


def test_get_monitoring_walks_in_an_order_that_does_not_move_while_executions_land(hook, api):
    # The default order (last_execution) changes as executions land, and a cursor walk then skips
    # monitorings: the lookup must ask for the websites' order, on every page.
    api.on("GET", "/monitorings", cursor([[monitoring("m-1")], [monitoring("m-2")]]))
    hook.get_monitoring("m-2")
    assert [seen.query.get("sort_by") for seen in api.seen] == [["website"], ["website"]]


def test_get_monitoring_absent_is_not_found(hook, api):
    api.on("GET", "/monitorings", cursor([[monitoring("m-1")], [monitoring("m-2")]]))
    with pytest.raises(NotFoundError, match="monitoring 'm-9' is not among the 2 monitorings listed") as caught:
        hook.get_monitoring("m-9")
    assert isinstance(caught.value, MonitoringNotFoundError)
    assert len(api.seen) == 2


def test_get_monitoring_refuses_an_empty_id(hook, api):
    with pytest.raises(ConfigurationError, match="monitoring_id"):
        hook.get_monitoring(" ")
    assert api.seen == []


# ---- deactivate_monitoring ------------------------------------------------------------------


@pytest.mark.parametrize(("status", "already"), [(204, False), (200, True)])
def test_deactivate_reports_whether_it_was_already_inactive(hook, api, status, already):
    api.on("DELETE", "/monitorings/m-1/deactivate", Reply(status))
    assert hook.deactivate_monitoring("m-1") == {"monitoring_id": "m-1", "already_inactive": already, "status": status}
    (seen,) = api.seen
    assert (seen.method, seen.path, seen.body) == ("DELETE", "/monitorings/m-1/deactivate", b"")
    assert_common_headers(seen)


def test_deactivate_unknown_id_is_not_found(hook, api):
    api.on("DELETE", "/monitorings/m%2F1/deactivate", Reply(404, json={"error": "Monitoring not found"}))
    with pytest.raises(NotFoundError, match="HTTP 404 on DELETE /monitorings/m%2F1/deactivate: Monitoring not found"):
        hook.deactivate_monitoring("m/1")  # the id is one URL-encoded path segment
    assert len(api.seen) == 1


def test_deactivate_refuses_an_empty_id(hook, api):
    with pytest.raises(ConfigurationError):
        hook.deactivate_monitoring("")
    assert api.seen == []


# ---- list_executions ------------------------------------------------------------------------


def _windows_server(api, answers: dict[tuple[str | None, str | None], Any]) -> None:
    """GET /monitoring-executions answered by (from, next_token); anything else is a 400."""

    def respond(seen: Seen) -> Reply:
        key = (seen.q("from"), seen.q("next_token"))
        if key not in answers:
            return Reply(400, json={"error": f"unexpected query {seen.query}"})
        return Reply(json=answers[key])

    api.on("GET", "/monitoring-executions", respond)


def test_list_executions_splits_150_days_into_contiguous_windows_of_at_most_60_days(hook, api):
    end = START + timedelta(days=150)
    d60, d120 = START + timedelta(days=60), START + timedelta(days=120)
    _windows_server(api, {
        (iso(START), None): {"items": [execution("e1")], "next_token": TOKEN},
        (iso(START), TOKEN): {"items": [execution("e2")], "next_token": None},
        # e2 sits on the boundary and comes back in the next window too: returned once.
        (iso(d60), None): {"items": [execution("e2"), execution("e3")], "next_token": None},
        (iso(d120), None): {"items": [execution("e4")], "next_token": None},
    })

    result = list(hook.list_executions(start=START, end=end))

    assert [e["id"] for e in result] == ["e1", "e2", "e3", "e4"]
    assert result[0] == execution("e1")
    requests = api.requests_to("GET", "/monitoring-executions")
    assert [(r.q("from"), r.q("to"), r.q("next_token")) for r in requests] == [
        ("2026-01-01T00:00:00Z", "2026-03-02T00:00:00Z", None),
        ("2026-01-01T00:00:00Z", "2026-03-02T00:00:00Z", TOKEN),
        ("2026-03-02T00:00:00Z", "2026-05-01T00:00:00Z", None),
        ("2026-05-01T00:00:00Z", "2026-05-31T00:00:00Z", None),
    ]
    windows = list(dict.fromkeys((r.q("from"), r.q("to")) for r in requests))
    bounds = [(datetime.fromisoformat(f.replace("Z", "+00:00")), datetime.fromisoformat(t.replace("Z", "+00:00")))
              for f, t in windows]
    assert bounds[0][0] == START and bounds[-1][1] == end
    assert all(a_to == b_from for (_, a_to), (b_from, _) in zip(bounds, bounds[1:]))  # contiguous
    assert all(timedelta(0) < t - f <= timedelta(days=60) for f, t in bounds)
    for seen in requests:
        assert_common_headers(seen)
        assert seen.q("page_size") == "100" and "monitoring_id" not in seen.query


def test_list_executions_filters_monitoring_id_client_side(hook, api):
    api.on("GET", "/monitoring-executions", {"items": [
        execution("e1", "m-1"), execution("e2", "m-2"), execution("e3", "m-1"),
    ], "next_token": None})
    assert [e["id"] for e in hook.list_executions(monitoring_id="m-1")] == ["e1", "e3"]
    (seen,) = api.seen
    assert seen.query == {"page_size": ["100"]}  # neither bound: the API's last 30 days; no id filter sent


def test_list_executions_start_only_runs_to_now(hook, api):
    api.on("GET", "/monitoring-executions", {"items": [], "next_token": None})
    start = datetime.now(timezone.utc) - timedelta(days=5)
    before = datetime.now(timezone.utc)
    list(hook.list_executions(start=start.isoformat()))
    after = datetime.now(timezone.utc)
    (seen,) = api.seen
    assert seen.q("from") == start.strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 1000:03d}Z"
    sent_to = datetime.fromisoformat(seen.q("to").replace("Z", "+00:00"))
    assert before - timedelta(milliseconds=1) <= sent_to <= after


def test_list_executions_end_only_starts_30_days_before(hook, api):
    api.on("GET", "/monitoring-executions", {"items": [execution("e1")], "next_token": None})
    assert [e["id"] for e in hook.list_executions(end="2026-04-30T00:00:00Z")] == ["e1"]
    (seen,) = api.seen
    assert (seen.q("from"), seen.q("to")) == ("2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": START, "end": START - timedelta(seconds=1)}, "is after end"),
        ({"start": datetime.now(timezone.utc) + timedelta(days=1)}, "end defaults to now"),
        ({"start": "yesterday"}, "start must be an ISO 8601"),
        ({"end": 12}, "end must be a datetime or an ISO 8601"),
        ({"monitoring_id": ""}, "monitoring_id"),
    ],
)
def test_list_executions_refuses_bad_input_before_sending(hook, api, kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        hook.list_executions(**kwargs)
    assert api.seen == []


# ---- list_alerts ----------------------------------------------------------------------------

CAMEL_ALERT = {
    "id": "a1b2c3d4", "monitoringId": "m-1", "customerId": "c-1", "executionResultId": "r-1", "website": SITE,
    "failedChecks": [{"check": "non_operational_website", "explanation": "No Website Data found",
                      "methodUsed": "AI", "status": "FAILED"}],
    "executionTime": "2026-05-21T12:34:56.000Z", "createdAt": "2026-05-21T12:35:00Z",
    "acknowledged_at": None, "externalId": "ext-1",
}
SNAKE_ALERT = {
    "id": "532ebbd3-269d-4c8f-b73b-2269eb83f1ae", "monitoring_id": "m-2", "customer_id": "c-1",
    "execution_result_id": "r-2", "website": SITE,
    "failed_checks": [{"check": "high_risk_mcc", "explanation": "MCC 7995", "method_used": "", "status": "NEW_STATE"}],
    "execution_time": "2026-05-22T00:00:00Z", "created_at": "2026-05-22T00:00:01Z", "acknowledged_at": None,
    "external_id": None,
}


def test_list_alerts_sends_snake_case_filters_on_every_page(hook, api):
    api.on("GET", "/monitoring-alerts", cursor([[SNAKE_ALERT], [{**SNAKE_ALERT, "id": "a-2"}]], unacknowledged_count=2))
    after = datetime(2026, 5, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))

    result = list(hook.list_alerts(only_unacknowledged=True, execution_time_after=after,
                                   execution_time_before="2026-06-01T00:00:00Z", acknowledged=False))

    assert [a["id"] for a in result] == [SNAKE_ALERT["id"], "a-2"]
    assert result[0] == SNAKE_ALERT  # snake alerts untouched; unknown enum values kept raw
    requests = api.requests_to("GET", "/monitoring-alerts")
    assert [r.q("next_token") for r in requests] == [None, f"{TOKEN}0"]
    for seen in requests:
        assert_common_headers(seen)
        assert {k: v for k, v in seen.query.items() if k != "next_token"} == {
            "only_unacknowledged": ["true"], "acknowledged": ["false"], "page_size": ["100"],
            "execution_time_after": ["2026-05-01T00:00:00Z"], "execution_time_before": ["2026-06-01T00:00:00Z"],
        }


def test_list_alerts_reads_camel_case_alerts_in_snake_case(hook, api):
    api.on("GET", "/monitoring-alerts", {"items": [CAMEL_ALERT], "unacknowledgedCount": 1, "next_token": None})
    (alert,) = hook.list_alerts()
    assert api.seen[0].query == {"page_size": ["100"]}
    assert alert["monitoring_id"] == "m-1" and alert["customer_id"] == "c-1"
    assert alert["execution_result_id"] == "r-1" and alert["external_id"] == "ext-1"
    assert alert["execution_time"] == "2026-05-21T12:34:56.000Z" and alert["created_at"] == "2026-05-21T12:35:00Z"
    assert alert["failed_checks"][0]["method_used"] == "AI"
    assert alert["failed_checks"][0]["check"] == "non_operational_website"
    assert alert["monitoringId"] == "m-1" and alert["failedChecks"][0]["methodUsed"] == "AI"  # originals kept


def test_list_alerts_filters_monitoring_id_client_side_in_either_casing(hook, api):
    api.on("GET", "/monitoring-alerts", {"items": [CAMEL_ALERT, SNAKE_ALERT, {**SNAKE_ALERT, "id": "x", "monitoring_id": "m-1"}]})
    assert [a["id"] for a in hook.list_alerts(monitoring_id="m-1")] == ["a1b2c3d4", "x"]
    assert "monitoring_id" not in api.seen[0].query


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"only_unacknowledged": "true"}, "only_unacknowledged must be True or False"),
        ({"acknowledged": 1}, "acknowledged must be True or False"),
        ({"only_unacknowledged": True, "acknowledged": True}, "contradict"),
        ({"execution_time_after": "2026-06-02T00:00:00Z", "execution_time_before": "2026-06-01T00:00:00Z"},
         "is later than"),
        ({"execution_time_before": "soon"}, "execution_time_before must be an ISO 8601"),
        ({"monitoring_id": None, "execution_time_after": []}, "execution_time_after must be a datetime"),
    ],
)
def test_list_alerts_refuses_bad_input_before_sending(hook, api, kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        hook.list_alerts(**kwargs)
    assert api.seen == []


# ---- acknowledge_alerts ---------------------------------------------------------------------


def test_acknowledge_alerts_by_id_sends_one_request_each(hook, api):
    api.on("POST", "/monitoring-alerts/acknowledge", {"success": True, "message": "Alert acknowledged"})
    result = hook.acknowledge_alerts(["a-1", "a-2", "a-1"])
    assert result == {
        "acknowledged": ["a-1", "a-2"],
        "updated_count": None,  # the single-alert answer carries no count
        "unacknowledged_count": None,
        "responses": [{"success": True, "message": "Alert acknowledged"}] * 2,
    }
    requests = api.requests_to("POST", "/monitoring-alerts/acknowledge")
    assert [r.json for r in requests] == [{"alert_id": "a-1"}, {"alert_id": "a-2"}]
    for seen in requests:
        assert_common_headers(seen)
        assert seen.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "response",
    [
        {"success": True, "message": "7 alerts acknowledged", "updatedCount": 7},
        {"success": True, "message": "7 alerts acknowledged", "updated_count": 7},
    ],
    ids=["updatedCount", "updated_count"],
)
def test_acknowledge_all_alerts_reads_every_count_variant(hook, api, response):
    api.on("POST", "/monitoring-alerts/acknowledge", response)
    assert hook.acknowledge_alerts(all_alerts=True) == {
        "acknowledged": "all", "updated_count": 7, "unacknowledged_count": None, "responses": [response],
    }
    (seen,) = api.seen
    assert seen.json == {"all": True}


def test_acknowledge_all_without_a_count_gives_none(hook, api):
    api.on("POST", "/monitoring-alerts/acknowledge", {"success": True, "message": "done", "unacknowledged_count": None})
    assert hook.acknowledge_alerts(all_alerts=True)["updated_count"] is None


def test_unacknowledged_count_is_what_remains_not_what_was_done(hook, api):
    # OAS 1.6.0 answers unacknowledged_count: the alerts still open after the call.
    api.on("POST", "/monitoring-alerts/acknowledge", {"success": True, "message": "ok", "unacknowledged_count": 0})
    result = hook.acknowledge_alerts(all_alerts=True)
    assert result["updated_count"] is None and result["unacknowledged_count"] == 0


def test_acknowledge_failure_midway_names_what_was_acknowledged(hook, api):
    def respond(seen: Seen) -> Reply:
        if seen.json == {"alert_id": "a-2"}:
            return Reply(404, json={"error": "Alert not found"})
        return Reply(json={"success": True, "message": "Alert acknowledged"})

    api.on("POST", "/monitoring-alerts/acknowledge", respond)
    with pytest.raises(NotFoundError, match=r"Alert not found.*acknowledged before this failure: \['a-1'\]"):
        hook.acknowledge_alerts(["a-1", "a-2", "a-3"])
    assert [r.json["alert_id"] for r in api.seen] == ["a-1", "a-2"]


def test_acknowledge_fails_closed_on_success_false(hook, api):
    api.on("POST", "/monitoring-alerts/acknowledge", {"success": False, "message": "nope"})
    with pytest.raises(UnexpectedResponseError, match="success=false"):
        hook.acknowledge_alerts(all_alerts=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "give a non-empty list of alert_ids, or all_alerts=True"),
        ({"alert_ids": ["a-1"], "all_alerts": True}, "not both"),
        ({"alert_ids": []}, "alert_ids must not be empty"),
        ({"alert_ids": "a-1"}, "alert_ids must be a list"),
        ({"alert_ids": ["a-1", ""]}, "each item of alert_ids"),
        ({"all_alerts": "yes"}, "all_alerts must be True or False"),
    ],
)
def test_acknowledge_refuses_bad_input_before_sending(hook, api, kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        hook.acknowledge_alerts(**kwargs)
    assert api.seen == []


# ---- async twins ----------------------------------------------------------------------------


async def test_alist_executions_splits_windows_and_walks_pages(hook, api):
    end = START + timedelta(days=70)
    d60 = START + timedelta(days=60)
    _windows_server(api, {
        (iso(START), None): {"items": [execution("e1")], "next_token": TOKEN},
        (iso(START), TOKEN): {"items": [execution("e2", "m-2"), execution("e3")], "next_token": None},
        (iso(d60), None): {"items": [execution("e3"), execution("e4")], "next_token": None},
    })
    async with hook:
        result = [e["id"] async for e in hook.alist_executions(START, end, monitoring_id="m-1")]
    assert result == ["e1", "e3", "e4"]
    assert [(r.q("from"), r.q("to"), r.q("next_token")) for r in api.seen] == [
        ("2026-01-01T00:00:00Z", "2026-03-02T00:00:00Z", None),
        ("2026-01-01T00:00:00Z", "2026-03-02T00:00:00Z", TOKEN),
        ("2026-03-02T00:00:00Z", "2026-03-12T00:00:00Z", None),
    ]
    for seen in api.seen:
        assert_common_headers(seen)
        assert seen.q("page_size") == "100"


async def test_alist_alerts_reads_camel_case_and_paginates(hook, api):
    api.on("GET", "/monitoring-alerts", cursor([[CAMEL_ALERT], [SNAKE_ALERT]]))
    async with hook:
        alerts = [a async for a in hook.alist_alerts(only_unacknowledged=True)]
    assert [a["monitoring_id"] for a in alerts] == ["m-1", "m-2"]
    assert alerts[0]["failed_checks"][0]["method_used"] == "AI"
    assert [(r.q("only_unacknowledged"), r.q("next_token")) for r in api.seen] == [("true", None), ("true", f"{TOKEN}0")]
    assert_common_headers(api.seen[0])


async def test_async_twins_refuse_bad_input_before_sending(hook, api):
    async with hook:
        with pytest.raises(ConfigurationError, match="is after end"):
            hook.alist_executions(start=START, end=START - timedelta(days=1))
        with pytest.raises(ConfigurationError, match="contradict"):
            hook.alist_alerts(only_unacknowledged=True, acknowledged=True)
    assert api.seen == []


# ---- test_connection ------------------------------------------------------------------------


def test_test_connection_reads_one_page_only(hook, api):
    api.on("GET", "/monitorings", {"items": [monitoring("m-1")], "next_token": TOKEN})
    ok, message = hook.test_connection()
    assert ok, message
    assert "Diligent" in message
    (seen,) = api.seen
    assert (seen.method, seen.path, seen.query) == ("GET", "/monitorings", {"page_size": ["1"]})
    assert_common_headers(seen)


def test_test_connection_bad_key_names_the_status_not_the_key(hook, api):
    # The vendor echoing the key back must not put it in the message either.
    api.on("GET", "/monitorings", Reply(401, json={"error": f"Unauthorized: invalid key {API_KEY}"}))
    ok, message = hook.test_connection()
    assert not ok
    assert "401" in message and "Unauthorized" in message
    assert API_KEY not in message
    assert len(api.seen) == 1  # 401 is never retried


def test_test_connection_unreachable_host(connection):
    connection("diligent_down", "diligent", closed_port_url())
    ok, message = DiligentHook(diligent_conn_id="diligent_down").test_connection()
    assert not ok
    assert "Diligent" in message and API_KEY not in message


async def test_aget_monitoring_walks_the_listing_to_find_the_id(hook, api):
    api.on("GET", "/monitorings", cursor([[monitoring("m-1")], [monitoring("m-2", running_state="FAILED")]]))
    async with hook:
        found = await hook.aget_monitoring("m-2")
        with pytest.raises(NotFoundError, match="monitoring 'm-9' is not among the 2 monitorings listed"):
            await hook.aget_monitoring("m-9")
    assert found["running_state"] == "FAILED"
    assert [s.q("next_token") for s in api.seen[:2]] == [None, f"{TOKEN}0"]


def test_alert_filters_are_applied_again_when_the_server_ignores_them(hook, api):
    # A camelCase-generation server ignores snake_case filters and returns everything.
    alerts = [
        {"id": "a1", "monitoringId": "m-1", "executionTime": "2026-05-02T00:00:00.000Z", "acknowledged_at": None},
        {"id": "a2", "monitoringId": "m-1", "executionTime": "2026-05-03T00:00:00.000Z",
         "acknowledged_at": "2026-05-04T00:00:00Z"},
        {"id": "a3", "monitoringId": "m-1", "executionTime": "2026-04-01T00:00:00.000Z", "acknowledged_at": None},
        {"id": "a4", "monitoringId": "m-1", "executionTime": "2026-05-05T00:00:00.000Z"},
    ]
    api.on("GET", "/monitoring-alerts", {"items": alerts, "next_token": None})
    got = list(hook.list_alerts(only_unacknowledged=True, execution_time_after="2026-05-01T00:00:00Z"))
    assert [a["id"] for a in got] == ["a1", "a4"]
    assert api.seen[0].q("only_unacknowledged") == "true"
    assert [a["id"] for a in hook.list_alerts(acknowledged=True)] == ["a2", "a4"]
