"""Connection → settings: hosts, the http refusal, where the key comes from, extras."""

from __future__ import annotations

import pytest

from airflow_provider_monitoring._http.errors import ConfigurationError
from airflow_provider_monitoring._http.settings import base_url_from, settings_from_connection
from airflow_provider_monitoring._vendors import DATAFOLD, DILIGENT, ENCRATA
from airflow.sdk import BaseHook


@pytest.mark.parametrize(
    "vendor, host, expected",
    [
        (ENCRATA, None, "https://encrata.com"),
        (DILIGENT, "", "https://api.godiligent.ai"),
        (DATAFOLD, "https://us.datafold.com/", "https://us.datafold.com"),
        (DATAFOLD, "eub.datafold.com", "https://eub.datafold.com"),
        (DILIGENT, "https://api.sandbox.godiligent.ai", "https://api.sandbox.godiligent.ai"),
        (ENCRATA, "http://127.0.0.1:8900", "http://127.0.0.1:8900"),
        (ENCRATA, "http://localhost:8900/", "http://localhost:8900"),
        (ENCRATA, "http://[::1]:8900", "http://[::1]:8900"),
    ],
)
def test_base_url_from_host_or_vendor_default(vendor, host, expected):
    assert base_url_from(vendor, host) == expected


def test_port_field_is_added_to_a_host_without_one():
    assert base_url_from(DATAFOLD, "datafold.internal", None, 8443) == "https://datafold.internal:8443"


@pytest.mark.parametrize("host", ["http://encrata.com", "http://10.0.0.5:8080", "datafold.internal"])
def test_plain_http_is_refused_for_non_loopback_hosts(host):
    with pytest.raises(ConfigurationError, match="refusing plain http:// .* unencrypted"):
        base_url_from(DATAFOLD, host, schema="http")


def test_non_http_scheme_is_refused():
    with pytest.raises(ConfigurationError, match="not an http"):
        base_url_from(ENCRATA, "ftp://encrata.com")


def test_key_timeout_and_retries_from_the_json_connection_form(connection):
    connection("encrata_default", "encrata", "https://encrata.com", password="k-1", timeout="12.5", max_retries=1)
    settings = settings_from_connection(ENCRATA, BaseHook.get_connection("encrata_default"))
    assert settings.auth_headers() == {"Authorization": "Bearer k-1"}
    assert (settings.timeout, settings.max_retries) == (12.5, 1)
    assert "k-1" not in repr(settings)


def test_missing_key_says_where_to_put_it(connection):
    connection("d3", "datafold", None, password=None)
    with pytest.raises(ConfigurationError, match="has no Datafold API key"):
        settings_from_connection(DATAFOLD, BaseHook.get_connection("d3"))


@pytest.mark.parametrize("extra, message", [({"timeout": "soon"}, "timeout"), ({"max_retries": -1}, "max_retries")])
def test_bad_extras_are_refused(connection, extra, message):
    connection("d4", "datafold", None, **extra)
    with pytest.raises(ConfigurationError, match=message):
        settings_from_connection(DATAFOLD, BaseHook.get_connection("d4"))


@pytest.mark.parametrize("key, problem", [
    ("sk-live-12\n3456789", "a control character at position 11"),
    ("sk-live-1234\r\nX-Evil: 1", "a control character at position 13"),
    ("sk-live-12\x00", "a control character at position 11"),
    ("sk-live 123456789", "whitespace at position 8"),
    ("sk-live-123\u00e9456", "a non-ASCII character at position 12"),
])
def test_a_key_that_cannot_travel_in_a_header_is_refused_without_showing_it(api, connection, key, problem):
    from tests.hooks.test_base import AcmeHook

    connection("acme_default", "acme", api.url, password=key)
    with pytest.raises(ConfigurationError) as info:
        AcmeHook().get_widget("w1")
    message = str(info.value)
    assert "'acme_default'" in message and f"contains {problem}" in message
    for part in ("sk-live", "123", "456", "789", "X-Evil"):
        assert part not in message
    assert api.seen == []  # refused before any request


def test_surrounding_whitespace_of_a_key_is_forgiven(connection):
    connection("e5", "encrata", None, password="  k-2\n")
    assert settings_from_connection(ENCRATA, BaseHook.get_connection("e5")).api_key == "k-2"
