"""What a Datafold monitor spec must hold, checked before any request: the create bodies of the
four monitor types and the changes an update may make (docs/vendors/datafold.md §2.3-§2.9).

Every check raises ConfigurationError naming the field (``spec.schedule.interval.every``) and
what is wrong, so a bad spec fails at DAG parse time or before the first request, never as a
vendor 422 half-way through a DAG.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from airflow_provider_monitoring._http.errors import ConfigurationError
from airflow_provider_monitoring._http.values import choice, non_empty_str, string_list
from airflow_provider_monitoring._vendors import (
    DATAFOLD_COLUMN_METRICS as COLUMN_METRICS,
    DATAFOLD_DIFF_TYPES as DIFF_TYPES,
    DATAFOLD_METRIC_ALERT_TYPES as METRIC_ALERT_TYPES,
    DATAFOLD_METRIC_KINDS as METRIC_KINDS,
    DATAFOLD_NOTIFICATION_TYPES as NOTIFICATION_TYPES,
    DATAFOLD_STANDARD_TEST_TYPES as STANDARD_TEST_TYPES,
    DATAFOLD_TABLE_METRICS as TABLE_METRICS,
)

INTERVAL_TYPES = {"hour": "hourly", "day": "daily"}  # every -> the only type it may carry (§2.8)

# Fields PATCH /update cannot change (§2.9), with the monitor types that fix them at creation. None
# of them is an update field of any other type, so they are refused whatever the type, before any
# request (even the GET that learns the type).
IMMUTABLE_ON_UPDATE = {
    "connection_id": "metric, schema and test",
    "metric": "metric",
    "table": "schema",
}
IMMUTABLE_DIFF_DATASETS = ("dataset_a", "dataset_b")



# ---- request checks (all raise ConfigurationError before anything is sent) -------------------


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{what} must be a dict, got {value!r}")
    return value


def _integer(value: Any, what: str) -> int:
    # The body is sent as written: an id given as "11" would reach the server as a string.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{what} must be an integer, got {value!r}")
    return value


def _required_choice(mapping: Mapping[str, Any], key: str, allowed: Iterable[str], what: str) -> str:
    if mapping.get(key) is None:
        raise ConfigurationError(f"{what}.{key} is required (one of: {', '.join(sorted(allowed))})")
    return choice(mapping[key], tuple(allowed), f"{what}.{key}")


def _exactly_one(mapping: Mapping[str, Any], keys: tuple[str, str], what: str) -> str:
    present = [key for key in keys if mapping.get(key) is not None]
    if len(present) != 1:
        given = " and ".join(present) if present else "neither"
        raise ConfigurationError(f"{what} needs exactly one of {keys[0]!r} or {keys[1]!r}, got {given}")
    return present[0]


def _refuse_type_keys(spec: Mapping[str, Any]) -> None:
    for key in ("type", "monitor_type"):
        if key in spec:
            raise ConfigurationError(
                f"spec must not hold {key!r}: the monitor type is passed as monitor_type= and the hook puts "
                "it where the API wants it"
            )


def validated_create_body(monitor_type: str, spec: Any) -> dict:
    """``spec`` as a plain dict (the caller's is never changed), after checking what the create
    endpoint of ``monitor_type`` requires."""
    spec = _mapping(spec, "spec")
    _refuse_type_keys(spec)
    non_empty_str(spec.get("name"), "spec.name")
    if spec.get("schedule") is None:
        raise ConfigurationError(
            "spec.schedule is required: {'interval': {'every': 'hour'|'day'}}, {'cron': '...'}, "
            "or {'type': 'none'} for a monitor that runs only when triggered"
        )
    _check_common_fields(spec)
    _TYPE_CHECKS[monitor_type](spec)
    return dict(spec)


def _check_common_fields(spec: Mapping[str, Any]) -> None:
    """name/schedule/enabled/notifications/tags, where present (create and update alike)."""
    if "name" in spec:
        non_empty_str(spec["name"], "spec.name")
    if spec.get("schedule") is not None:
        _check_schedule(spec["schedule"])
    if "enabled" in spec and not isinstance(spec["enabled"], bool):
        raise ConfigurationError(f"spec.enabled must be True or False, got {spec['enabled']!r}")
    if spec.get("notifications") is not None:
        _check_notifications(spec["notifications"])
    if spec.get("tags") is not None:
        _check_tags(spec["tags"])


def _check_schedule(schedule: Any, what: str = "spec.schedule") -> None:
    # The schedule is a plain anyOf matched on shape (§2.8): a schedule must have exactly one shape.
    schedule = _mapping(schedule, what)
    if "interval" in schedule and "cron" in schedule:
        raise ConfigurationError(f"{what} holds both 'interval' and 'cron'; keep one")
    if "interval" in schedule:
        _check_interval(schedule["interval"], f"{what}.interval")
    elif "cron" in schedule:
        non_empty_str(schedule["cron"], f"{what}.cron")
        if schedule.get("type", "crontab") != "crontab":
            raise ConfigurationError(f"{what}.type must be 'crontab' with a cron schedule, got {schedule['type']!r}")
    elif not schedule:
        # {} would silently match the "none" shape; a forgotten schedule is likelier than a meant one.
        raise ConfigurationError(
            f"{what} is empty; write {{'type': 'none'}} for a monitor that runs only when triggered"
        )
    elif schedule.get("type") != "none":
        raise ConfigurationError(
            f"{what} must be {{'interval': {{'every': 'hour'|'day', ...}}}}, {{'cron': '...'}} or "
            f"{{'type': 'none'}}, got {dict(schedule)!r}"
        )


def _check_interval(interval: Any, what: str) -> None:
    interval = _mapping(interval, what)
    every = _required_choice(interval, "every", INTERVAL_TYPES, what)
    # The docs' example pairs "every": "<string>" with "type": "hourly"; only hour/hourly and
    # day/daily exist, so a mismatched pair is refused rather than sent.
    if interval.get("type") is not None and interval["type"] != INTERVAL_TYPES[every]:
        raise ConfigurationError(
            f"{what}.type must be {INTERVAL_TYPES[every]!r} when every is {every!r}, got {interval['type']!r}"
        )
    hour = interval.get("hour")
    if hour is not None and (isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23):
        raise ConfigurationError(f"{what}.hour must be an hour of the day in UTC (0-23), got {hour!r}")


def _check_notifications(notifications: Any, what: str = "spec.notifications") -> None:
    if isinstance(notifications, (str, bytes, Mapping)) or not isinstance(notifications, (list, tuple)):
        raise ConfigurationError(f"{what} must be a list of notification dicts, got {notifications!r}")
    for index, notification in enumerate(notifications):
        where = f"{what}[{index}]"
        notification = _mapping(notification, where)
        # A oneOf discriminated by type: the tag is mandatory (§2.8, §9.5).
        kind = _required_choice(notification, "type", NOTIFICATION_TYPES, where)
        if kind == "email":
            string_list(notification.get("recipients"), f"{where}.recipients")
            continue
        _integer(notification.get("integration"), f"{where}.integration")
        if kind in ("slack", "teams"):
            non_empty_str(notification.get("channel"), f"{where}.channel")


def _check_tags(tags: Any, what: str = "spec.tags") -> None:
    if isinstance(tags, (str, bytes)) or not isinstance(tags, (list, tuple)):
        raise ConfigurationError(f"{what} must be a list of strings, got {tags!r}")
    for tag in tags:
        non_empty_str(tag, f"each item of {what}")


def _check_diff_create(spec: Mapping[str, Any]) -> None:
    datadiff = _mapping(spec.get("datadiff"), "spec.datadiff")
    _check_datadiff_options(datadiff)
    string_list(datadiff.get("primary_key"), "spec.datadiff.primary_key")
    for side in IMMUTABLE_DIFF_DATASETS:
        _check_dataset(datadiff.get(side), f"spec.datadiff.{side}")
    _check_optional_mapping(spec, "alert")


def _check_datadiff_options(datadiff: Mapping[str, Any]) -> None:
    # The spec names diff_type as the discriminator but lists it in neither config, and its example
    # omits it; the server's discriminated union needs it (§2.4), so it is required here.
    _required_choice(datadiff, "diff_type", DIFF_TYPES, "spec.datadiff")
    if "primary_key" in datadiff:
        string_list(datadiff["primary_key"], "spec.datadiff.primary_key")


def _check_dataset(dataset: Any, what: str) -> None:
    dataset = _mapping(dataset, what)
    _integer(dataset.get("connection_id"), f"{what}.connection_id")
    # Table and query datasets are a plain anyOf told apart by which key is present (§2.4).
    source = _exactly_one(dataset, ("table", "query"), what)
    non_empty_str(dataset[source], f"{what}.{source}")


def _check_metric_create(spec: Mapping[str, Any]) -> None:
    _integer(spec.get("connection_id"), "spec.connection_id")
    metric = _mapping(spec.get("metric"), "spec.metric")
    # Discriminated by type, so the tag is required although it has a default (§2.5, §9.5).
    kind = _required_choice(metric, "type", METRIC_KINDS, "spec.metric")
    if kind == "table":
        _required_choice(metric, "metric", TABLE_METRICS, "spec.metric")
    elif kind == "column":
        non_empty_str(metric.get("table"), "spec.metric.table")
        non_empty_str(metric.get("column"), "spec.metric.column")
        _required_choice(metric, "metric", COLUMN_METRICS, "spec.metric")
    else:
        non_empty_str(metric.get("query"), "spec.metric.query")
    _check_metric_alert(spec.get("alert"))


def _check_metric_alert(alert: Any, what: str = "spec.alert") -> None:
    if alert is None:
        return
    alert = _mapping(alert, what)
    kind = _required_choice(alert, "type", METRIC_ALERT_TYPES, what)
    if kind == "automatic":
        sensitivity = alert.get("sensitivity")
        if isinstance(sensitivity, bool) or not isinstance(sensitivity, int) or not 0 <= sensitivity <= 100:
            raise ConfigurationError(f"{what}.sensitivity must be an integer from 0 to 100, got {sensitivity!r}")


def _check_test_create(spec: Mapping[str, Any]) -> None:
    _integer(spec.get("connection_id"), "spec.connection_id")
    # Neither is marked required and the server's answer to both or neither is unknown (§2.6, §9.16).
    _exactly_one(spec, ("query", "test"), "spec")
    _check_test_fields(spec)


def _check_test_fields(spec: Mapping[str, Any]) -> None:
    if spec.get("query") is not None:
        non_empty_str(spec["query"], "spec.query")
    if spec.get("test") is not None:
        test = _mapping(spec["test"], "spec.test")
        _required_choice(test, "type", STANDARD_TEST_TYPES, "spec.test")


def _check_schema_create(spec: Mapping[str, Any]) -> None:
    _integer(spec.get("connection_id"), "spec.connection_id")
    if spec.get("table") is not None:
        non_empty_str(spec["table"], "spec.table")


def _check_optional_mapping(spec: Mapping[str, Any], key: str) -> None:
    if spec.get(key) is not None:
        _mapping(spec[key], f"spec.{key}")


_TYPE_CHECKS = {
    "diff": _check_diff_create,
    "metric": _check_metric_create,
    "test": _check_test_create,
    "schema": _check_schema_create,
}


def validated_update_changes(spec: Any) -> dict:
    """The update ``spec`` as a plain dict, after the checks that need no monitor type."""
    spec = _mapping(spec, "spec")
    if not spec:
        raise ConfigurationError("spec is empty: nothing to update")
    _refuse_type_keys(spec)
    if "enabled" in spec:
        raise ConfigurationError("update_monitor cannot change 'enabled'; use toggle_monitor(monitor_id, enabled)")
    for key, types in IMMUTABLE_ON_UPDATE.items():
        if key in spec:
            raise ConfigurationError(_immutable_message(repr(key), types))
    datadiff = spec.get("datadiff")
    if isinstance(datadiff, Mapping):
        for side in IMMUTABLE_DIFF_DATASETS:
            if side in datadiff:
                raise ConfigurationError(_immutable_message(f"'datadiff.{side}'", "diff"))
    _check_common_fields(spec)
    return dict(spec)


def _immutable_message(field: str, types: str) -> str:
    return (
        f"update_monitor cannot change {field}: it is fixed when {types} monitors are created (and no "
        "other type has it); delete the monitor and create it again"
    )


def check_update_for_type(monitor_type: str, spec: Mapping[str, Any]) -> None:
    """The update checks that depend on the monitor's type. A type this hook does not know (the
    server may add some) is left to the server."""
    if monitor_type == "metric":
        _check_metric_alert(spec.get("alert"))
    elif monitor_type == "test":
        present = [key for key in ("query", "test") if spec.get(key) is not None]
        if len(present) > 1:
            raise ConfigurationError("spec needs at most one of 'query' or 'test', got both")
        _check_test_fields(spec)
    elif monitor_type == "diff":
        if spec.get("datadiff") is not None:
            _check_datadiff_options(_mapping(spec["datadiff"], "spec.datadiff"))
        _check_optional_mapping(spec, "alert")
