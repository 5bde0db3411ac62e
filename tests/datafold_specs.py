"""Create bodies of the four Datafold monitor types: as the vendor notes document them (the hook
and sandbox tests), and small ones that run only when asked (the operator, sensor and trigger
tests). Tests take their create bodies from here; only the DAG files that tests run in a
subprocess spell theirs out."""

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

# Small monitors that run only when asked (schedule {"type": "none"}), for the tests that start
# their runs in the sandbox. Those tests pick outcomes by name: "*rows*" matches the metric one;
# none of these names matches a default rule of the sandbox ("*alert demo*", "*fail demo*").
MANUAL_DIFF_SPEC = {
    "name": "orders diff",
    "schedule": {"type": "none"},
    "datadiff": {
        "diff_type": "inmem",
        "primary_key": ["order_id"],
        "dataset_a": {"connection_id": 11, "table": "PROD.SALES.ORDERS"},
        "dataset_b": {"connection_id": 12, "table": "analytics.sales.orders"},
    },
}
MANUAL_METRIC_SPEC = {
    "name": "orders rows",
    "schedule": {"type": "none"},
    "connection_id": 11,
    "metric": {"type": "table", "table": "PROD.SALES.ORDERS", "metric": "row_count"},
    "alert": {"type": "automatic", "sensitivity": 50},
}
MANUAL_TEST_SPEC = {
    "name": "orders ids unique",
    "schedule": {"type": "none"},
    "connection_id": 11,
    "test": {"type": "unique", "tables": [{"path": "PROD.SALES.ORDERS", "columns": ["order_id"]}]},
}
MANUAL_SCHEMA_SPEC = {
    "name": "orders schema",
    "schedule": {"type": "none"},
    "connection_id": 11,
    "table": "PROD.SALES.ORDERS",
}
MANUAL_SPECS = {"diff": MANUAL_DIFF_SPEC, "metric": MANUAL_METRIC_SPEC, "test": MANUAL_TEST_SPEC,
                "schema": MANUAL_SCHEMA_SPEC}
