"""The base every vendor hook stands on, through a minimal hook of a made-up vendor."""

from __future__ import annotations

import aiohttp
import pytest

from airflow_provider_monitoring._http.errors import AmbiguousRequestError, ConfigurationError, UnexpectedResponseError
from airflow_provider_monitoring.hooks.base import MonitoringHook
from airflow_provider_monitoring._http.retry import Call
from airflow_provider_monitoring._http.settings import VendorSpec
from tests.conftest import API_KEY, Reply, closed_port_url


class AcmeHook(MonitoringHook):
    vendor = VendorSpec("Acme", "acme", "acme_default", "https://acme.example", "X-Key", "")

    def _probe(self):
        return self._call("GET", "/ping")

    def create_widget(self, name):
        def find(sent_at):
            return [w for w in self._call("GET", "/widgets") if w["name"] == name and self.created_since(w, sent_at)]

        return self._create("POST", "/widgets", {"name": name}, find)

    async def aping(self):
        return await self.aclient.request(Call("GET", "/ping"))

    def get_widget(self, widget_id):
        path = f"/widgets/{widget_id}"
        return self._object(self._call("GET", path), "GET", path, must_have="id")


def test_constructor_reads_no_connection():
    hook = AcmeHook("not_defined_anywhere")  # would raise if it looked the connection up
    assert hook.conn_id == "not_defined_anywhere"


def test_create_whose_fate_is_unknown_returns_the_one_object_it_made(api, connection):
    connection("acme_default", "acme", api.url)
    api.on("POST", "/widgets", Reply(502))
    api.on("GET", "/widgets", [{"id": "w9", "name": "gizmo", "created_at": "2000-01-01T00:00:00Z"},
                               {"id": "w10", "name": "gizmo", "created_at": "2999-01-01T00:00:00.000Z"}])
    assert AcmeHook().create_widget("gizmo")["id"] == "w10"
    assert len(api.requests_to("POST", "/widgets")) == 1


def test_create_whose_fate_is_unknown_raises_when_nothing_matches(api, connection):
    connection("acme_default", "acme", api.url)
    api.on("POST", "/widgets", Reply(504))
    api.on("GET", "/widgets", [])
    with pytest.raises(AmbiguousRequestError, match="0 matching objects"):
        AcmeHook().create_widget("gizmo")
    assert len(api.requests_to("POST", "/widgets")) == 1


async def test_async_block_resolves_the_connection_and_closes_its_own_session(api, connection):
    connection("acme_default", "acme", api.url)
    api.on("GET", "/ping", {"pong": True})
    hook = AcmeHook()
    with pytest.raises(RuntimeError, match="async with"):
        await hook.aping()
    async with hook:
        assert await hook.aping() == {"pong": True}
        session = hook.aclient._session
    assert session.closed
    assert api.seen[0].headers["X-Key"] == API_KEY


async def test_a_borrowed_session_is_left_open_for_its_owner(api, connection):
    connection("acme_default", "acme", api.url)
    api.on("GET", "/ping", {"pong": True})
    async with aiohttp.ClientSession() as shared:
        for _ in range(2):
            async with AcmeHook().use_session(shared) as hook:
                await hook.aping()
        assert not shared.closed
    assert len(api.seen) == 2


def test_test_connection_reports_an_unreachable_host(connection):
    connection("acme_default", "acme", closed_port_url())
    ok, message = AcmeHook().test_connection()
    assert ok is False and "no response" in message and "GET /ping" in message


def test_test_connection_reports_a_bad_key_without_showing_it(api, connection):
    connection("acme_default", "acme", api.url)
    api.on("GET", "/ping", Reply(401, json={"error": "unauthorized"}))
    ok, message = AcmeHook().test_connection()
    assert ok is False and "HTTP 401" in message and API_KEY not in message
    assert len(api.seen) == 1


def test_test_connection_success_names_the_vendor_and_url(api, connection):
    connection("acme_default", "acme", api.url)
    api.on("GET", "/ping", {"pong": True})
    assert AcmeHook().test_connection() == (True, f"Connected to Acme at {api.url}")


def test_test_connection_does_not_sleep_through_a_long_retry_after(api, connection):
    connection("acme_default", "acme", api.url)
    api.on("GET", "/ping", Reply(429, json={"error": "slow down"}, headers={"Retry-After": "200"}))
    ok, message = AcmeHook().test_connection()
    assert ok is False and "HTTP 429" in message and "200 s" in message
    assert len(api.seen) == 1


def test_a_key_echoed_where_an_object_was_expected_is_redacted(api, connection):
    connection("acme_default", "acme", api.url)
    api.on("GET", "/widgets/w1", {"headers": {"X-Key": API_KEY, "Accept": "application/json"}})
    with pytest.raises(UnexpectedResponseError) as info:
        AcmeHook().get_widget("w1")
    error = info.value
    assert "expected an object with 'id'" in str(error)
    for text in (str(error), error.vendor_message, repr(error.body), repr(error.args)):
        assert API_KEY not in text


async def test_a_borrowed_session_that_reads_netrc_is_refused(api, connection):
    # aiohttp's trust_env reads ~/.netrc, whose Basic credentials would go beside the vendor's key.
    connection("acme_default", "acme", api.url)
    async with aiohttp.ClientSession(trust_env=True) as shared:
        with pytest.raises(ConfigurationError, match="trust_env"):
            async with AcmeHook().use_session(shared):
                pass
    assert api.seen == []
