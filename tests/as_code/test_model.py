"""The ownership marker: written and read back the same, found at the end of a name or an external
id, and never read into text that merely mentions it."""

from __future__ import annotations

import pytest

from airflow_provider_monitoring.as_code.model import Marker, fingerprint, split_suffix, with_suffix


@pytest.mark.parametrize("marker, text", [
    (Marker("payments", "orders-diff", ("1a2b3c4d", "5e6f7a8b")), "as-code:payments/orders-diff#1a2b3c4d.5e6f7a8b"),
    (Marker("", "domains.v2", ("0f0f0f0f",)), "as-code:domains.v2#0f0f0f0f"),
    (Marker("team_a", "site-1"), "as-code:team_a/site-1"),
])
def test_a_marker_reads_back_as_written(marker, text):
    assert marker.text() == text and Marker.parse(text) == marker


@pytest.mark.parametrize("text", ["as-code:", "as-code:/key", "airflow", "as-code:ns/key extra", None, 42])
def test_what_is_not_a_whole_marker_is_none(text):
    assert Marker.parse(text) is None


def test_the_marker_ends_a_name_or_is_a_whole_external_id():
    marker = Marker("ns", "key", ("abcdef01",))
    assert with_suffix("Shop [eu] domains", marker) == "Shop [eu] domains [as-code:ns/key#abcdef01]"
    assert split_suffix("Shop [eu] domains [as-code:ns/key#abcdef01]") == ("Shop [eu] domains", marker)
    assert with_suffix(None, marker) == "as-code:ns/key#abcdef01"
    assert split_suffix("as-code:ns/key#abcdef01") == (None, marker)
    # A name that only mentions the words, or has them in the middle, is nobody's marker.
    assert split_suffix("Notes on as-code:ns/key") == ("Notes on as-code:ns/key", None)
    assert split_suffix("[as-code:ns/key] Shop") == ("[as-code:ns/key] Shop", None)
    assert split_suffix(None) == (None, None)


def test_a_fingerprint_ignores_key_order_and_sees_any_value_change():
    assert fingerprint({"a": [1, 2], "b": "x"}) == fingerprint({"b": "x", "a": [1, 2]})
    assert fingerprint({"a": [1, 2]}) != fingerprint({"a": [2, 1]})
    assert len(fingerprint(None)) == 8
