"""Create bodies of the four Datafold monitor types, as the vendor notes document them (shared by
the hook tests and the sandbox tests)."""

DIFF_SPEC = {
    "name": "orders replication check",
    "schedule": {"interval": {"every": "day", "hour": 6}},
    "datadiff": {
        "diff_type": "inmem",
        "dataset_a": {"connection_id": 11, "table": "PROD.SALES.ORDERS"},
        "dataset_b": {"connection_id": 12, "query": "select * from analytics.sales.orders", "materialize": True},
        "primary_key": ["order_id"],
        "sampling": {"tolerance": 0.001, "confidence": 95},
    },
    "alert": {"different_rows_count": 0},
    "notifications": [{"type": "email", "recipients": ["data@example.com"]}],
    "tags": ["airflow"],
}
METRIC_SPEC = {
    "name": "orders row count",
    "connection_id": 11,
    "metric": {"type": "table", "table": "PROD.SALES.ORDERS", "metric": "row_count"},
    "alert": {"type": "automatic", "sensitivity": 50},
    "schedule": {"cron": "0 * * * *"},
    "notifications": [{"type": "slack", "integration": 3, "channel": "#data", "features": ["attach_csv"]}],
}
TEST_SPEC = {
    "name": "no null ids",
    "connection_id": 7,
    "test": {"type": "not_null", "tables": [{"path": "db.s.t", "columns": ["id"]}]},
    "schedule": {"interval": {"every": "hour", "type": "hourly"}},
    "description": "standard test",
}
SCHEMA_SPEC = {
    "name": "orders schema",
    "connection_id": 7,
    "table": "db.sales.orders",
    "schedule": {"type": "none"},
    "enabled": False,
    "owner": "owner@example.com",
}
SPECS = {"diff": DIFF_SPEC, "metric": METRIC_SPEC, "test": TEST_SPEC, "schema": SCHEMA_SPEC}
