"""The vendor adapters' comparisons: a value the vendor writes its own way is the same value."""

from __future__ import annotations

import pytest

from airflow_provider_monitoring.as_code.vendors import ADAPTERS


@pytest.mark.parametrize("vendor, name, old, new, same", [
    # A server may write an instant in another form than the spec (docs/vendors/diligent.md).
    ("diligent", "expires_at", "2099-01-01T00:00:00.000+00:00", "2099-01-01T00:00:00Z", True),
    ("diligent", "expires_at", "2099-01-02T00:00:00Z", "2099-01-01T00:00:00Z", False),
    ("diligent", "expires_at", None, "2099-01-01T00:00:00Z", False),
    # The interval type that "every" implies, added or dropped by a server (docs/vendors/datafold.md §2.8).
    ("datafold", "schedule", {"interval": {"every": "hour", "type": "hourly"}}, {"interval": {"every": "hour"}}, True),
    ("datafold", "schedule", {"interval": {"every": "day", "hour": 6, "type": "daily"}},
     {"interval": {"every": "day", "hour": 7}}, False),
])
def test_values_a_vendor_spells_its_own_way_compare_by_meaning(vendor, name, old, new, same):
    assert ADAPTERS[vendor].same(name, old, new) is same
