"""Monitors as Airflow assets: Airflow finds the provider's encrata://, diligent:// and datafold://
handlers and factories through the provider's entry point, normalizes every ``Asset(uri)`` of those
schemes with them, and refuses a bad one with the provider's message."""

from __future__ import annotations

import pendulum
import pytest

from airflow_provider_monitoring.assets import (
    MonitorRef, conn_host, datafold_monitor_asset, diligent_monitoring_asset, encrata_monitor_asset, monitor_of,
)

HELPERS = {
    "encrata": encrata_monitor_asset,
    "diligent": diligent_monitoring_asset,
    "datafold": datafold_monitor_asset,
}


# ---- Airflow's own normalization ----------------------------------------------------------------------------


@pytest.mark.parametrize(("written", "normalized"), [
    ("datafold://APP.datafold.com/monitors/42", "datafold://app.datafold.com/monitors/42"),
    ("DATAFOLD://app.datafold.com/monitors/042/", "datafold://app.datafold.com/monitors/42"),
    ("encrata://Encrata.COM/monitors/mon_AbC-1", "encrata://encrata.com/monitors/mon_AbC-1"),  # ids keep case
    ("diligent://127.0.0.1:8900/monitorings/5f0c2b1e-9a7d-4c3e-8f21-0b6d4e2a9c17",
     "diligent://127.0.0.1:8900/monitorings/5f0c2b1e-9a7d-4c3e-8f21-0b6d4e2a9c17"),
    ("datafold://[::1]:8443/monitors/7", "datafold://[::1]:8443/monitors/7"),
])
def test_airflow_normalizes_a_monitor_uri_with_the_provider_handler(written, normalized):
    from airflow.sdk import Asset

    asset = Asset(uri=written)
    assert asset.uri == normalized
    assert asset.normalized_uri == normalized


@pytest.mark.parametrize(("uri", "message"), [
    ("datafold://h/monitors/abc", "the monitor id 'abc' is not a positive integer"),
    ("datafold://h/monitors/0", "the monitor id '0' is not a positive integer"),
    ("encrata://h/other/1", "the path must be /monitors/<id>, got '/other/1'"),
    ("diligent://h/monitors/1", "the path must be /monitorings/<id>, got '/monitors/1'"),
    ("datafold://h/monitors/1/runs/2", "the path must be /monitors/<id>"),
    ("datafold://h/monitors/42?team=a", "a monitor URI has no query string (?team=a)"),
    ("encrata://h/monitors/a%2Fb", "the monitor id 'a%2Fb' must be letters, digits"),
    ("encrata:///monitors/1", "no host"),
    ("datafold://h:99999/monitors/1", "the port must be a number from 1 to 65535"),
    ("datafold://bad_host!/monitors/1", "'bad_host!' is not a host name"),
])
def test_airflow_refuses_a_bad_monitor_uri_with_the_provider_message(uri, message):
    from airflow.sdk import Asset

    with pytest.raises(ValueError) as refused:
        Asset(uri=uri)
    text = str(refused.value)
    assert message in text
    assert f"asset URI '{uri.split('?')[0]}" in text  # the message names the URI


def test_a_user_name_is_refused_and_left_out_of_the_message():
    from airflow.sdk import Asset

    with pytest.raises(ValueError) as refused:
        Asset(uri="diligent://me@h/monitorings/1")
    assert "diligent asset URI 'diligent://h/monitorings/1': a monitor URI carries no user name" in str(refused.value)


def test_other_schemes_are_left_to_airflow():
    from airflow.sdk import Asset

    assert Asset(uri="s3://bucket/monitors/abc").uri == "s3://bucket/monitors/abc"


def test_airflow_registers_the_three_schemes():
    """The task runtime's manager is the one ``Asset`` and the lineage collector ask."""
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManagerTaskRuntime()
    for vendor, helper in HELPERS.items():
        assert manager.asset_uri_handlers[vendor].__name__ == f"normalize_{vendor}_uri"
        assert manager.asset_factories[vendor] is helper


# ---- the factory route (hook lineage) and the helpers -----------------------------------------------------


def test_lineage_collector_builds_the_asset_from_the_scheme_factory():
    from airflow.sdk.lineage import HookLineageCollector

    collector = HookLineageCollector()
    asset = collector.create_asset(scheme="datafold", asset_kwargs={"monitor_id": "042", "host": "EU.datafold.com"},
                                   asset_extra={"team": "sales"})
    assert asset.uri == asset.name == "datafold://eu.datafold.com/monitors/42"
    assert asset.extra == {"team": "sales"}
    # A bad id reaches the factory's check; the collector logs and skips it, as it does for any scheme.
    assert collector.create_asset(scheme="datafold", asset_kwargs={"monitor_id": "abc"}) is None


@pytest.mark.parametrize(("vendor", "monitor_id", "host", "spelled"), [
    ("encrata", "mon_1", "encrata.com", "ENCRATA://Encrata.com/monitors/mon_1/"),
    ("diligent", "5f0c2b1e", "api.godiligent.ai", "diligent://API.godiligent.ai/monitorings/5f0c2b1e"),
    ("datafold", 42, "app.datafold.com", "datafold://app.datafold.com/monitors/0042"),
    ("datafold", "7", "127.0.0.1:8900", "datafold://127.0.0.1:8900/monitors/7"),
])
def test_helper_and_airflow_agree_on_the_uri(vendor, monitor_id, host, spelled):
    from airflow.sdk import Asset

    made = HELPERS[vendor](monitor_id, host=host)
    assert made.uri == Asset(uri=spelled).uri
    assert made == Asset(name=made.uri, uri=made.uri)  # named by its URI, so every spelling is one asset
    assert monitor_of(made) == MonitorRef(vendor, host, monitor_id if vendor != "datafold" else int(monitor_id))


def test_helpers_default_to_the_connections_default_hosts():
    assert encrata_monitor_asset("m1").uri == "encrata://encrata.com/monitors/m1"
    assert diligent_monitoring_asset("d1").uri == "diligent://api.godiligent.ai/monitorings/d1"
    assert datafold_monitor_asset(42).uri == "datafold://app.datafold.com/monitors/42"


def test_helpers_pass_asset_arguments_on():
    asset = datafold_monitor_asset(42, name="orders_gate", group="quality", extra={"owner": "sales"})
    assert (asset.name, asset.uri, asset.group, asset.extra) == (
        "orders_gate", "datafold://app.datafold.com/monitors/42", "quality", {"owner": "sales"})


@pytest.mark.parametrize(("call", "message"), [
    (lambda: datafold_monitor_asset(True), "the monitor id must be a string or an integer, got True"),
    (lambda: datafold_monitor_asset(None), "the monitor id must be a string or an integer, got None"),
    (lambda: datafold_monitor_asset(-3), "the monitor id '-3' is not a positive integer"),
    (lambda: encrata_monitor_asset("a/b"), "the monitor id 'a/b' must be letters"),
    (lambda: encrata_monitor_asset(""), "the monitor id '' must be letters"),
    (lambda: diligent_monitoring_asset("d1", host="https://api.godiligent.ai"),
     "host must be a host name with an optional port"),
    (lambda: datafold_monitor_asset(1, host="app.datafold.com/monitors"), "conn_host(base_url)"),
])
def test_helpers_refuse_bad_arguments(call, message):
    with pytest.raises(ValueError) as refused:
        call()
    assert message in str(refused.value)


# ---- reading a monitor back ---------------------------------------------------------------------------------


def test_monitor_of_reads_an_asset_or_a_uri():
    assert monitor_of("diligent://API.godiligent.ai/monitorings/AbC") == ("diligent", "api.godiligent.ai", "AbC")
    assert monitor_of(datafold_monitor_asset("042")).monitor_id == 42
    with pytest.raises(ValueError, match="the scheme must be encrata://, diligent:// or datafold://"):
        monitor_of("s3://bucket/monitors/1")
    with pytest.raises(ValueError, match="is not a positive integer"):
        monitor_of("datafold://h/monitors/x")
    with pytest.raises(ValueError, match="expected an Asset or a URI string"):
        monitor_of(42)


# ---- the host of a connection -------------------------------------------------------------------------------


def test_conn_host_takes_the_host_of_a_hook_connection(connection):
    from airflow_provider_monitoring.hooks.datafold import DatafoldHook

    conn_id = connection("datafold_eu", "datafold", "https://EU.datafold.com:8443/api")
    host = conn_host(DatafoldHook(datafold_conn_id=conn_id).settings.base_url)
    assert host == "eu.datafold.com:8443"
    assert datafold_monitor_asset(42, host=host).uri == "datafold://eu.datafold.com:8443/monitors/42"


def test_conn_host_reads_bare_hosts_and_leaves_user_info_out():
    assert conn_host("us.datafold.com") == "us.datafold.com"
    assert conn_host("http://127.0.0.1:8900/datafold") == "127.0.0.1:8900"
    assert conn_host("https://someone:hunter2@app.datafold.com") == "app.datafold.com"
    with pytest.raises(ValueError, match="no host"):
        conn_host("https:///path")


# ---- producer and consumer DAGs -----------------------------------------------------------------------------


def test_a_producer_task_and_a_consumer_dag_name_one_asset_after_serialization():
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    from airflow_provider_monitoring.operators.datafold import DatafoldRunMonitorOperator

    start = pendulum.datetime(2026, 1, 1)
    with DAG("gate", schedule=None, start_date=start) as producer:
        DatafoldRunMonitorOperator(task_id="gate", monitor_id=42, outlets=[datafold_monitor_asset(42)])
    with DAG("after_gate", schedule=[datafold_monitor_asset("042")], start_date=start) as consumer:
        pass

    produced = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(producer))
    consumed = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(consumer))
    [outlet] = produced.task_dict["gate"].outlets
    [(_, scheduled)] = list(consumed.timetable.asset_condition.iter_assets())
    assert (outlet.name, outlet.uri) == (scheduled.name, scheduled.uri) == (
        "datafold://app.datafold.com/monitors/42",) * 2


@pytest.mark.parametrize("asset, namespace, name", [
    ("datafold://app.datafold.com/monitors/42", "datafold://app.datafold.com", "monitors/42"),
    ("diligent://api.godiligent.ai/monitorings/m-1", "diligent://api.godiligent.ai", "monitorings/m-1"),
])
def test_openlineage_converts_a_monitor_asset_through_the_registered_converter(asset, namespace, name):
    from airflow.providers.openlineage.utils.utils import translate_airflow_asset
    from airflow.sdk import Asset

    dataset = translate_airflow_asset(Asset(asset), lineage_context=None)
    assert (dataset.namespace, dataset.name) == (namespace, name)
