"""Spec files for the monitors-as-code tests: a spec of 30 monitors across the three vendors
(ten each; Datafold's of its four types), written as YAML the way a user would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DATAFOLD_BODIES = {
    "diff": {
        "schedule": {"interval": {"every": "day", "hour": 6}},
        "datadiff": {"diff_type": "inmem", "primary_key": ["order_id"],
                     "dataset_a": {"connection_id": 11, "table": "PROD.SALES.ORDERS"},
                     "dataset_b": {"connection_id": 12, "table": "analytics.sales.orders"}},
        "alert": {"different_rows_count": 0},
    },
    "metric": {
        "schedule": {"cron": "0 * * * *"}, "connection_id": 11,
        "metric": {"type": "table", "table": "PROD.SALES.ORDERS", "metric": "row_count"},
        "alert": {"type": "automatic", "sensitivity": 50},
    },
    "test": {
        "schedule": {"interval": {"every": "hour"}}, "connection_id": 7,
        "test": {"type": "not_null", "tables": [{"path": "db.s.t", "columns": ["id"]}]},
    },
    "schema": {"schedule": {"type": "none"}, "connection_id": 7, "table": "db.sales.orders"},
}


def encrata(n: int) -> dict[str, Any]:
    return {"key": f"domains-{n}", "vendor": "encrata", "name": f"Domains {n}", "monitor_type": "domain",
            "targets": [f"site{n}.example.com", f"shop{n}.example.org"], "frequency": "weekly"}


def diligent(n: int) -> dict[str, Any]:
    return {"key": f"merchant-{n}", "vendor": "diligent", "website": f"https://merchant{n}.example.net",
            "checks": ["non_operational_website", "high_risk_mcc"], "frequency": "weekly",
            "external_id": f"merchant-{n}"}


def datafold(n: int) -> dict[str, Any]:
    kind = ("diff", "metric", "test", "schema")[n % 4]
    return {"key": f"quality-{n}", "vendor": "datafold", "type": kind, "name": f"Quality {kind} {n}",
            **DATAFOLD_BODIES[kind], "tags": ["airflow"]}


def thirty_monitors() -> list[dict[str, Any]]:
    return [make(n) for make in (encrata, diligent, datafold) for n in range(10)]


def write_spec(path: Path, monitors: list[dict[str, Any]], namespace: str | None = "team-a", **top: Any) -> Path:
    document = {**({"namespace": namespace} if namespace else {}), **top, "monitors": monitors}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path
