"""A deadline set around HTTP calls (``deadline_at``): retries, waits and requests end by it."""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_provider_monitoring._http.client import AsyncClient, SyncClient
from airflow_provider_monitoring._http.errors import ApiError, DeadlineReached, ServerError
from airflow_provider_monitoring._http.retry import Call, deadline_at, seconds_left
from tests._http.test_client import settings
from tests.conftest import Reply


def test_seconds_left_is_none_without_a_deadline_and_counts_down_within_one():
    assert seconds_left() is None
    with deadline_at(time.time() + 10):
        assert 9 < seconds_left() <= 10
        with deadline_at(time.time() + 60):  # an inner block cannot lift the outer deadline
            assert seconds_left() <= 10
        with deadline_at(None):
            assert seconds_left() <= 10
    with deadline_at(None):
        assert seconds_left() is None
    assert seconds_left() is None


async def test_a_deadline_belongs_to_its_own_task():
    async def left_in_a_task_without_one():
        return seconds_left()

    with deadline_at(time.time() + 10):
        inner = await asyncio.gather(asyncio.get_running_loop().run_in_executor(None, seconds_left))
        assert inner == [None]  # a plain executor thread does not inherit it
    assert await asyncio.create_task(left_in_a_task_without_one()) is None


def test_deadline_reached_is_not_an_api_error():
    assert not issubclass(DeadlineReached, ApiError)


def test_a_long_retry_after_is_not_slept_through_a_deadline(api):
    api.on("GET", "/v1/x", Reply(429, json={"error": "slow down"}, headers={"Retry-After": "60"}), {"ok": True})
    started = time.monotonic()
    with deadline_at(time.time() + 1.5), pytest.raises(DeadlineReached) as info:
        SyncClient(settings(api.url)).request(Call("GET", "/v1/x"))
    assert time.monotonic() - started < 2.0
    message = str(info.value)
    assert "Acme" in message and "GET /v1/x" in message and "waiting to retry" in message
    assert len(api.seen) == 1


async def test_async_a_long_retry_after_is_not_slept_through_a_deadline(api):
    api.on("GET", "/v1/x", Reply(429, headers={"Retry-After": "60"}), {"ok": True})
    started = time.monotonic()
    async with AsyncClient(settings(api.url)) as client:
        with deadline_at(time.time() + 1.5), pytest.raises(DeadlineReached, match="waiting to retry"):
            await client.request(Call("GET", "/v1/x"))
    assert time.monotonic() - started < 2.0
    assert len(api.seen) == 1


def test_a_slow_answer_is_cut_at_the_deadline(api):
    api.on("GET", "/v1/x", Reply(json={"late": True}, delay=10))
    started = time.monotonic()
    with deadline_at(time.time() + 1.5), pytest.raises(DeadlineReached) as info:
        SyncClient(settings(api.url, timeout=30)).request(Call("GET", "/v1/x"))
    assert time.monotonic() - started < 2.5
    assert "waiting for an answer" in str(info.value) and "GET /v1/x" in str(info.value)


async def test_async_a_slow_answer_is_cut_at_the_deadline(api):
    api.on("GET", "/v1/x", Reply(json={"late": True}, delay=10))
    started = time.monotonic()
    async with AsyncClient(settings(api.url, timeout=30)) as client:
        with deadline_at(time.time() + 1.5), pytest.raises(DeadlineReached, match="waiting for an answer"):
            await client.request(Call("GET", "/v1/x"))
    assert time.monotonic() - started < 2.5


def test_a_deadline_already_past_sends_nothing(api):
    api.on("GET", "/v1/x", {"ok": True})
    with deadline_at(time.time() - 1), pytest.raises(DeadlineReached):
        SyncClient(settings(api.url)).request(Call("GET", "/v1/x"))
    assert api.seen == []


def test_a_request_timeout_shorter_than_the_time_left_is_still_a_transport_failure(api):
    # The deadline did not cut this request: its own timeout did, so it is retried as usual.
    api.on("GET", "/v1/x", Reply(json={"late": True}, delay=1.5), {"ok": True})
    with deadline_at(time.time() + 20):
        assert SyncClient(settings(api.url, timeout=0.5)).request(Call("GET", "/v1/x")) == {"ok": True}
    assert len(api.seen) == 2


def test_retries_within_the_deadline_still_happen(api):
    api.on("GET", "/v1/x", Reply(503), {"ok": True})
    with deadline_at(time.time() + 20):
        assert SyncClient(settings(api.url)).request(Call("GET", "/v1/x")) == {"ok": True}
    api.on("GET", "/v1/y", Reply(503))
    with deadline_at(time.time() + 20), pytest.raises(ServerError):
        SyncClient(settings(api.url, max_retries=1)).request(Call("GET", "/v1/y"))
