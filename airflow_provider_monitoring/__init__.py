"""Apache Airflow provider for the Encrata, Diligent and Datafold monitoring APIs."""

from __future__ import annotations

__version__ = "0.1.0"

PACKAGE_NAME = "airflow-provider-monitoring"
# The README, as the package index renders it. The same URL is [project.urls] Documentation in
# pyproject.toml, which is where Airflow 3.3 reads the Providers page link from (the distribution's
# Project-URL "Documentation"); "documentation-url" below says the same for any other reader.
DOCUMENTATION_URL = f"https://pypi.org/project/{PACKAGE_NAME}/"
# Shown in the empty Port field of the three connection forms (see _connection_type).
PORT_PLACEHOLDER = "0 = the Base URL's port; Test on Airflow 3.3.2 needs 0"


def _connection_type(vendor, hook_class: str, extra_fields: dict | None = None) -> dict:
    """One connection form. The API key is the connection's own password field, relabelled: it is
    masked in the form, encrypted at rest and redacted from logs, and it is the same field the
    JSON, URI and CLI forms fill (``"password": "KEY"``), so a key is never split between two
    places. The extras are declared as conn-fields.

    Port stays visible: 0 or empty means the Base URL's own port (the hooks add a port only to a
    URL without one). Airflow 3.3.2's Test button sends ``port: 0`` for a connection stored without
    a port and its API then refuses the test as "a different destination" (fixed upstream in
    apache/airflow#73298), so a connection made in this form needs a port stored, 0 will do, for
    Test to work there; hiding the field would leave no way to store one from the UI."""
    fields = {
        **(extra_fields or {}),
        "timeout": {
            "label": "Request timeout (seconds)",
            "description": "Timeout of each HTTP request",
            "schema": {"type": ["number", "null"], "default": 30, "minimum": 1},
        },
        "max_retries": {
            "label": "Max retries",
            "description": "Retries on 429, 5xx and connection errors (with backoff and Retry-After)",
            "schema": {"type": ["integer", "null"], "default": 4, "minimum": 0},
        },
    }
    return {
        "connection-type": vendor.conn_type,
        "hook-class-name": hook_class,
        "hook-name": vendor.name,
        "conn-fields": fields,
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "login", "extra"],
            "relabeling": {"host": "Base URL", "password": "API key"},
            "placeholders": {
                "host": vendor.default_host,
                "password": f"{vendor.name} API key",
                "port": PORT_PLACEHOLDER,
            },
        },
    }


def get_provider_info() -> dict:
    from airflow_provider_monitoring._vendors import DATAFOLD, DILIGENT, ENCRATA

    vendors = ("encrata", "diligent", "datafold")
    return {
        "package-name": PACKAGE_NAME,
        "name": "Monitoring (Encrata, Diligent, Datafold)",
        "description": "Create monitors, trigger runs, wait for outcomes and fetch results "
        "from Encrata, Diligent and Datafold.",
        "versions": [__version__],
        "documentation-url": DOCUMENTATION_URL,
        "connection-types": [
            _connection_type(
                ENCRATA,
                "airflow_provider_monitoring.hooks.encrata.EncrataHook",
                {
                    "api_prefix": {
                        "label": "API path prefix",
                        "description": "/api as the endpoint pages document, or /api/agent as the vendor SDKs call",
                        "schema": {"type": ["string", "null"], "default": "/api", "enum": ["/api", "/api/agent"]},
                    }
                },
            ),
            _connection_type(DILIGENT, "airflow_provider_monitoring.hooks.diligent.DiligentHook"),
            _connection_type(DATAFOLD, "airflow_provider_monitoring.hooks.datafold.DatafoldHook"),
        ],
        "hooks": [
            {"integration-name": v.capitalize(), "python-modules": [f"airflow_provider_monitoring.hooks.{v}"]}
            for v in vendors
        ],
        # Every vendor has the three roles, each in a module named after the vendor.
        **{
            role: [
                {"integration-name": v.capitalize(), "python-modules": [f"airflow_provider_monitoring.{role}.{v}"]}
                for v in vendors
            ]
            for role in ("operators", "sensors", "triggers")
        },
        "extra-links": [
            "airflow_provider_monitoring.operators.encrata.EncrataMonitorLink",
            "airflow_provider_monitoring.operators.datafold.DatafoldMonitorLink",
        ],
        # A monitor is an asset: encrata://, diligent://, datafold:// (airflow_provider_monitoring/assets.py).
        "asset-uris": [
            {
                "schemes": [v],
                "handler": f"airflow_provider_monitoring.assets.normalize_{v}_uri",
                "factory": f"airflow_provider_monitoring.assets.{factory}",
                "to_openlineage_converter": "airflow_provider_monitoring.assets.to_openlineage_dataset",
            }
            for v, factory in (
                ("encrata", "encrata_monitor_asset"),
                ("diligent", "diligent_monitoring_asset"),
                ("datafold", "datafold_monitor_asset"),
            )
        ],
        "integrations": [
            {"integration-name": v.capitalize(), "external-doc-url": url, "tags": ["service"]}
            for v, url in (
                ("encrata", "https://docs.encrata.com"),
                ("diligent", "https://docs.godiligent.ai"),
                ("datafold", "https://docs.datafold.com"),
            )
        ],
    }
