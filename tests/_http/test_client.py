"""The shared HTTP layer against a real server: what goes over the wire, retries, errors."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from airflow_provider_monitoring import __version__
from airflow_provider_monitoring._http.client import AsyncClient, SyncClient
from airflow_provider_monitoring._http.errors import (
    AmbiguousRequestError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
)
from airflow_provider_monitoring._http.retry import Call, RetryPolicy, parse_retry_after
from airflow_provider_monitoring._http.settings import ApiSettings, VendorSpec
from tests.conftest import API_KEY, Reply, closed_port_url

VENDOR = VendorSpec("Acme", "acme", "acme_default", "https://acme.example", "Authorization", "Bearer")


def settings(url: str, timeout: float = 5.0, max_retries: int = 3) -> ApiSettings:
    return ApiSettings(vendor=VENDOR, base_url=url, api_key=API_KEY, timeout=timeout, max_retries=max_retries)


# ---- what goes over the wire --------------------------------------------------------------------


def test_request_sends_auth_json_user_agent_and_query(api):
    api.on("POST", "/v1/things", Reply(201, json={"id": "t1"}))
    body = SyncClient(settings(api.url)).request(
        Call("POST", "/v1/things", params={"dry": True, "skip": None, "n": 3}, json={"name": "x"})
    )
    assert body == {"id": "t1"}
    [seen] = api.seen
    assert seen.headers["Authorization"] == f"Bearer {API_KEY}"
    assert seen.headers["User-Agent"] == f"airflow-provider-monitoring/{__version__}"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["Accept"] == "application/json"
    assert seen.query == {"dry": ["true"], "n": ["3"]}
    assert seen.json == {"name": "x"}


def test_get_sends_no_body_and_empty_reply_is_none(api):
    api.on("DELETE", "/v1/things/a%2Fb", Reply(204))
    assert SyncClient(settings(api.url)).request(Call("DELETE", "/v1/things/a%2Fb")) is None
    [seen] = api.seen
    assert seen.body == b"" and "Content-Type" not in seen.headers


async def test_async_client_sends_the_same_request(api):
    api.on("POST", "/v1/things", Reply(200, json={"ok": 1}))
    async with AsyncClient(settings(api.url)) as client:
        body = await client.request(Call("POST", "/v1/things", params={"flag": False}, json={"a": 1}))
    assert body == {"ok": 1}
    [seen] = api.seen
    assert seen.headers["Authorization"] == f"Bearer {API_KEY}"
    assert seen.headers["User-Agent"].startswith("airflow-provider-monitoring/")
    assert seen.query == {"flag": ["false"]}
    assert seen.json == {"a": 1}


# ---- retries ------------------------------------------------------------------------------------


def test_429_with_retry_after_seconds_waits_at_least_that_long(api):
    api.on("GET", "/v1/x", Reply(429, json={"error": "slow down"}, headers={"Retry-After": "2"}), {"ok": True})
    assert SyncClient(settings(api.url)).request(Call("GET", "/v1/x")) == {"ok": True}
    first, second = api.seen
    assert second.at - first.at >= 2.0


async def test_async_429_with_retry_after_waits_at_least_that_long(api):
    api.on("GET", "/v1/x", Reply(429, headers={"Retry-After": "2"}), {"ok": True})
    async with AsyncClient(settings(api.url)) as client:
        assert await client.request(Call("GET", "/v1/x")) == {"ok": True}
    first, second = api.seen
    assert second.at - first.at >= 2.0


def test_retry_after_as_http_date_is_honoured(api):
    replies = iter([None])

    def answer(seen):
        if next(replies, "done") is None:
            return Reply(503, headers={"Retry-After": formatdate(time.time() + 2, usegmt=True)})
        return Reply(json={"ok": True})

    api.on("GET", "/v1/x", answer)
    assert SyncClient(settings(api.url)).request(Call("GET", "/v1/x")) == {"ok": True}
    first, second = api.seen
    # An HTTP date has whole-second precision: the wait is at least one full second.
    assert second.at - first.at >= 1.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried_then_succeeds(api, status):
    api.on("GET", "/v1/x", Reply(status, body="<html>bad gateway</html>"), {"ok": True})
    assert SyncClient(settings(api.url)).request(Call("GET", "/v1/x")) == {"ok": True}
    assert len(api.seen) == 2


def test_retries_are_bounded_and_the_error_says_so(api):
    api.on("GET", "/v1/x", Reply(503, json={"error": "maintenance"}))
    with pytest.raises(ServerError) as info:
        SyncClient(settings(api.url, max_retries=2)).request(Call("GET", "/v1/x"))
    assert len(api.seen) == 3
    message = str(info.value)
    assert "HTTP 503" in message and "GET /v1/x" in message and "maintenance" in message
    assert "gave up after 3 attempts" in message


def test_retry_after_beyond_the_cap_is_not_slept_through(api):
    api.on("GET", "/v1/x", Reply(429, headers={"Retry-After": "3600"}))
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as info:
        SyncClient(settings(api.url)).request(Call("GET", "/v1/x"))
    assert time.monotonic() - started < 5
    assert len(api.seen) == 1 and info.value.retry_after == 3600


@pytest.mark.parametrize(
    "status, cls",
    [(400, BadRequestError), (401, AuthenticationError), (403, PermissionDeniedError), (404, NotFoundError),
     (409, ConflictError), (422, ValidationError)],
)
def test_other_4xx_are_never_retried(api, status, cls):
    api.on("GET", "/v1/x", Reply(status, json={"error": "nope"}))
    with pytest.raises(cls):
        SyncClient(settings(api.url)).request(Call("GET", "/v1/x"))
    assert len(api.seen) == 1


def test_401_names_status_method_path_and_vendor_words_but_never_the_key(api):
    # The vendor echoing the key back must not leak it either.
    api.on("GET", "/v1/x", Reply(401, json={"error": f"invalid key {API_KEY}"}))
    with pytest.raises(AuthenticationError) as info:
        SyncClient(settings(api.url)).request(Call("GET", "/v1/x", params={"q": 1}))
    message = str(info.value)
    assert len(api.seen) == 1
    assert "HTTP 401" in message and "GET /v1/x" in message and "invalid key" in message
    assert API_KEY not in message and API_KEY not in repr(info.value.body)


def test_connection_refused_is_retried_then_reported(api):
    with pytest.raises(TransportError) as info:
        SyncClient(settings(closed_port_url(), max_retries=1)).request(
            Call("GET", "/v1/x", params={"email": "someone@example.com"})
        )
    message = str(info.value)
    assert "no response" in message and "gave up after 2 attempts" in message
    assert "someone" not in message  # the query string stays out of messages


def test_transport_errors_carry_no_requests_exception_and_so_no_auth_header():
    # A requests exception holds the prepared request, Authorization header included.
    with pytest.raises(TransportError) as info:
        SyncClient(settings(closed_port_url(), max_retries=0)).request(Call("GET", "/v1/x"))
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert API_KEY not in repr(vars(info.value))


async def test_async_transport_errors_carry_no_aiohttp_exception():
    async with AsyncClient(settings(closed_port_url(), max_retries=0)) as client:
        with pytest.raises(TransportError) as info:
            await client.request(Call("GET", "/v1/x"))
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_dropped_connection_on_a_get_is_retried(api):
    api.on("GET", "/v1/x", Reply(drop=True), {"ok": True})
    assert SyncClient(settings(api.url)).request(Call("GET", "/v1/x")) == {"ok": True}
    assert len(api.seen) == 2


def test_read_timeout_on_a_get_is_retried(api):
    api.on("GET", "/v1/x", Reply(json={"late": True}, delay=1.5), {"ok": True})
    assert SyncClient(settings(api.url, timeout=0.5)).request(Call("GET", "/v1/x")) == {"ok": True}
    assert len(api.seen) == 2


# ---- creates and credit-costing calls are never re-sent blindly ---------------------------------


@pytest.mark.parametrize("reply", [Reply(502), Reply(504), Reply(500), Reply(drop=True), Reply(json={}, delay=1.5)])
def test_unsafe_post_is_sent_once_after_an_ambiguous_failure(api, reply):
    api.on("POST", "/v1/runs", reply, {"run_id": "r2"})
    with pytest.raises(AmbiguousRequestError) as info:
        SyncClient(settings(api.url, timeout=0.5)).request(Call("POST", "/v1/runs", json={}, resend_safe=False))
    assert len(api.requests_to("POST", "/v1/runs")) == 1
    assert "POST /v1/runs" in str(info.value) and "not re-sent" in str(info.value)


async def test_async_unsafe_post_is_sent_once_after_a_502(api):
    api.on("POST", "/v1/runs", Reply(502), {"run_id": "r2"})
    async with AsyncClient(settings(api.url)) as client:
        with pytest.raises(AmbiguousRequestError):
            await client.request(Call("POST", "/v1/runs", json={}, resend_safe=False))
    assert len(api.seen) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_unsafe_post_refused_by_the_vendor_is_re_sent(api, status):
    api.on("POST", "/v1/runs", Reply(status, headers={"Retry-After": "0"}), {"run_id": "r1"})
    body = SyncClient(settings(api.url)).request(Call("POST", "/v1/runs", json={}, resend_safe=False))
    assert body == {"run_id": "r1"} and len(api.seen) == 2


def test_unsafe_post_that_never_connected_is_re_sent():
    with pytest.raises(TransportError, match="gave up after 2 attempts"):
        SyncClient(settings(closed_port_url(), max_retries=1)).request(
            Call("POST", "/v1/runs", json={}, resend_safe=False)
        )


async def test_async_unsafe_post_that_never_connected_is_re_sent():
    async with AsyncClient(settings(closed_port_url(), max_retries=1)) as client:
        with pytest.raises(TransportError, match="gave up after 2 attempts"):
            await client.request(Call("POST", "/v1/runs", json={}, resend_safe=False))


@pytest.mark.parametrize("reply", [Reply(json={}, delay=1.5), Reply(drop=True)])
async def test_async_unsafe_post_that_may_have_arrived_is_sent_once(api, reply):
    api.on("POST", "/v1/runs", reply, {"run_id": "r2"})
    async with AsyncClient(settings(api.url, timeout=0.5)) as client:
        with pytest.raises(AmbiguousRequestError):
            await client.request(Call("POST", "/v1/runs", json={}, resend_safe=False))
    assert len(api.seen) == 1


async def test_async_get_is_retried_after_a_drop_and_a_5xx(api):
    api.on("GET", "/v1/x", Reply(drop=True), Reply(502), {"ok": True})
    async with AsyncClient(settings(api.url)) as client:
        assert await client.request(Call("GET", "/v1/x")) == {"ok": True}
    assert len(api.seen) == 3


def test_retry_after_date_without_a_zone_is_read_as_gmt():
    now = 1_800_000_000.0
    assert parse_retry_after(formatdate(now + 30, usegmt=False).replace("+0000", "-0000"), now=now) == 30.0


def test_download_refuses_a_json_body_in_place_of_the_file(api, tmp_path):
    api.on("GET", "/v1/export", {"error": "export not ready"})
    target = tmp_path / "out.csv"
    with open(target, "wb") as sink, pytest.raises(UnexpectedResponseError, match="expected a file"):
        SyncClient(settings(api.url)).download(Call("GET", "/v1/export", accept="text/csv"), sink)
    assert target.read_bytes() == b""


def test_download_streams_the_body_to_the_file(api, tmp_path):
    csv = "email,company\n" + "".join(f"u{n}@x.io,Acme\n" for n in range(5000))
    api.on("GET", "/v1/export", Reply(body=csv, headers={"Content-Type": "text/csv"}))
    target = tmp_path / "out.csv"
    with open(target, "wb") as sink:
        written = SyncClient(settings(api.url)).download(Call("GET", "/v1/export", accept="text/csv"), sink)
    assert target.read_text() == csv and written == len(csv)
    assert api.seen[0].headers["Accept"] == "text/csv"


# ---- error bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply, expected",
    [
        (Reply(400, json={"error": "Insufficient data"}), "Insufficient data"),
        (Reply(429, json={"c": 429, "m": "rate limit exceeded"}), "rate limit exceeded"),
        (Reply(400, json={"errors": [{"path": ["checks", "0"], "message": "Invalid enum", "code": "x"}]}),
         "checks.0: Invalid enum"),
        (Reply(404, json={"detail": "Monitor not found"}), "Monitor not found"),
        (Reply(422, json={"detail": [{"loc": ["body", "name"], "msg": "Field required", "type": "missing"}]}),
         "body.name: Field required"),
        (Reply(400, json={"error": "Duplicates", "duplicates": [{"website": "https://a.io", "index": 1}]}),
         "https://a.io (index 1)"),
        (Reply(502, body="<html><body>Bad Gateway</body></html>", headers={"Content-Type": "text/html"}),
         "<html><body>Bad Gateway</body></html>"),
    ],
)
def test_vendor_message_is_read_from_every_documented_body_shape(api, reply, expected):
    api.on("GET", "/v1/x", reply)
    with pytest.raises(Exception) as info:
        SyncClient(settings(api.url, max_retries=0)).request(Call("GET", "/v1/x"))
    assert expected in str(info.value)
    assert f"HTTP {reply.status}" in str(info.value)


# ---- backoff ------------------------------------------------------------------------------------


@pytest.mark.real_backoff
def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=30.0)
    for retry_number, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (6, 30), (9, 30)]:
        delays = {policy.backoff(retry_number) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered, not a fixed step
