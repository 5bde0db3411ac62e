"""Airflow discovers the provider through its entry point and shows the three connection forms."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest

from airflow_provider_monitoring import DOCUMENTATION_URL, PORT_PLACEHOLDER, __version__, get_provider_info

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

VENDORS = {
    "encrata": ("airflow_provider_monitoring.hooks.encrata.EncrataHook", "https://encrata.com"),
    "diligent": ("airflow_provider_monitoring.hooks.diligent.DiligentHook", "https://api.godiligent.ai"),
    "datafold": ("airflow_provider_monitoring.hooks.datafold.DatafoldHook", "https://app.datafold.com"),
}


def test_entry_point_points_at_get_provider_info():
    [entry] = [e for e in importlib.metadata.entry_points(group="apache_airflow_provider")
               if e.value.startswith("airflow_provider_monitoring")]
    assert entry.load() is get_provider_info
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-monitoring"
    assert info["versions"] == [__version__]


@pytest.fixture(scope="module")
def providers_manager():
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def test_providers_manager_lists_the_provider(providers_manager):
    assert providers_manager.providers["airflow-provider-monitoring"].version == __version__


@pytest.mark.parametrize("conn_type", sorted(VENDORS))
def test_task_runtime_resolves_the_hook_of_each_connection_type(conn_type):
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hook = ProvidersManagerTaskRuntime().hooks[conn_type]
    assert hook is not None and hook.hook_class_name == VENDORS[conn_type][0]
    assert hook.connection_id_attribute_name == f"{conn_type}_conn_id"


@pytest.mark.parametrize("conn_type", sorted(VENDORS))
def test_connection_type_has_its_form(providers_manager, conn_type):
    default_host = VENDORS[conn_type][1]

    widgets = providers_manager.connection_form_widgets
    assert f"extra__{conn_type}__timeout" in widgets and f"extra__{conn_type}__max_retries" in widgets
    assert not any(widget.is_sensitive for name, widget in widgets.items() if f"__{conn_type}__" in name)

    behaviour = providers_manager.field_behaviours[conn_type]
    # The key is the (masked, encrypted) password field, shown as "API key".
    assert "password" not in behaviour["hidden_fields"]
    assert {"login", "schema", "extra"} <= set(behaviour["hidden_fields"])
    # Port is shown, so that a connection made in the form can store one: Airflow 3.3.2's Test
    # button refuses a connection stored without a port (tests/test_connection_form.py).
    assert "port" not in behaviour["hidden_fields"]
    assert behaviour["placeholders"]["port"] == PORT_PLACEHOLDER
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API key"}
    assert behaviour["placeholders"]["host"] == default_host


def test_documentation_url_is_the_one_the_providers_page_links_to(providers_manager):
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["urls"]["Documentation"]
    assert declared == DOCUMENTATION_URL == get_provider_info()["documentation-url"]
    assert DOCUMENTATION_URL.startswith("https://") and "airflow-provider-monitoring" in DOCUMENTATION_URL
    # Airflow 3.3 fills "documentation-url" from the installed distribution's Project-URL
    # "Documentation" (whatever get_provider_info says), and the Providers page links to it, or,
    # without one, to an airflow.apache.org page that does not exist for this provider.
    installed = importlib.metadata.metadata("airflow-provider-monitoring").get_all("Project-URL") or []
    assert f"Documentation, {DOCUMENTATION_URL}" in installed, (
        f"installed metadata has {installed}: reinstall the package (make test does) after editing pyproject.toml"
    )
    assert providers_manager.providers["airflow-provider-monitoring"].data["documentation-url"] == DOCUMENTATION_URL


def test_encrata_form_offers_both_path_families(providers_manager):
    field = providers_manager.connection_form_widgets["extra__encrata__api_prefix"]
    assert field.field["schema"]["enum"] == ["/api", "/api/agent"]


def test_every_module_the_provider_lists_imports():
    import importlib

    info = get_provider_info()
    roles = ("hooks", "operators", "sensors", "triggers")
    modules = [m for role in roles for entry in info.get(role, []) for m in entry["python-modules"]]
    assert "airflow_provider_monitoring.operators.encrata" in modules
    for module in modules:
        importlib.import_module(module)
    for link in info["extra-links"]:
        module, _, name = link.rpartition(".")
        assert getattr(importlib.import_module(module), name)().name
    for uri_info in info["asset-uris"]:
        for role in ("handler", "factory"):
            module, _, name = uri_info[role].rpartition(".")
            assert callable(getattr(importlib.import_module(module), name))


def test_provider_info_passes_the_schema_airflow_validates_it_with():
    """Airflow drops a provider whose info fails its schema; the asset-uris entries are checked too."""
    import json

    import airflow
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert sorted(s for entry in info["asset-uris"] for s in entry["schemes"]) == ["datafold", "diligent", "encrata"]
