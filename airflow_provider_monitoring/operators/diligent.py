"""Diligent operators: onboard websites (one or in bulk), collect and acknowledge alerts (listed
ones, or those whose asset events started the DAG run).

Importing this module costs little: hooks are imported when a task runs.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Sequence

from airflow_provider_monitoring._vendors import DILIGENT_BULK_LIMIT as BULK_LIMIT
from airflow_provider_monitoring.operators.base import MonitoringOperator, templated

__all__ = [
    "DiligentAcknowledgeAlertsOperator", "DiligentAlertsOperator", "DiligentBulkCreateMonitoringsOperator",
    "DiligentCreateMonitoringOperator",
]

# What marks an asset event as a Diligent alert: the payload of this provider's AssetWatcher triggers
# (docs/design.md, "Vendor events"; built by triggers/_events.py, event_payload), which Airflow
# stores as the event's extra {"from_trigger": True, "payload": ...} (airflow/models/trigger.py,
# submit_event).
EVENT_VENDOR = "diligent"
EVENT_KIND = "alert"


class DiligentCreateMonitoringOperator(MonitoringOperator):
    """Starts monitoring a website and returns the monitoring id.

    Everything is checked before any request (an http(s) URL, known and unique ``checks``,
    ``frequency`` in any case, ``expires_at`` at least one frequency period ahead). Idempotent
    under retries: if the website already has an active monitoring, its id is returned instead of
    creating (or failing on) a second one; ``if_exists="fail"`` fails instead.

    :param website: The website's URL (templated).
    :param checks: The risk checks to run (templated), each a documented check name.
    :param frequency: ``weekly``, ``every_2_weeks`` (default), ``every_3_weeks`` or ``every_4_weeks``.
    :param run_now: Run the first execution right away.
    :param expires_at: When the monitoring ends (datetime or ISO 8601; templated), at least one
        frequency period ahead.
    :param external_id: Your own id for the monitoring (templated).
    :param skip_duplicate: Ask Diligent not to fail when the site already has an active monitoring
        (newest API versions); None leaves it out.
    :param if_exists: ``"return"`` (default) the active monitoring of the same website, or ``"fail"``.
    :param diligent_conn_id: The Airflow connection to Diligent.
    """

    template_fields: Sequence[str] = ("website", "checks", "external_id", "expires_at")

    def __init__(self, *, website: str, checks: list[str], frequency: str = "every_2_weeks", run_now: bool = True,
                 expires_at: Any = None, external_id: str | None = None, skip_duplicate: bool | None = None,
                 if_exists: str = "return", diligent_conn_id: str = "diligent_default", **kwargs: Any):
        super().__init__(conn_id=diligent_conn_id, **kwargs)
        from airflow_provider_monitoring._http.values import choice

        self.website, self.checks, self.frequency, self.run_now = website, checks, frequency, run_now
        self.expires_at, self.external_id, self.skip_duplicate = expires_at, external_id, skip_duplicate
        self.if_exists = choice(if_exists, ("return", "fail"), "if_exists")
        if not templated([website, checks, external_id, expires_at]):
            self._request()

    def _request(self) -> dict:
        from airflow_provider_monitoring.hooks.diligent import monitoring_request

        return monitoring_request(self.website, self.checks, self.frequency, self.run_now, self.expires_at,
                                  self.external_id, self.skip_duplicate)

    def execute(self, context: Any) -> str:
        from airflow_provider_monitoring.hooks.diligent import DiligentHook, site_key

        request = self._request()
        hook = DiligentHook(diligent_conn_id=self.conn_id)
        if self.if_exists == "return":
            wanted = site_key(request["website"])
            for monitoring in hook.list_monitorings(website=request["website"]):
                if monitoring.get("is_active") is not False and site_key(str(monitoring.get("website"))) == wanted:
                    self.log.info("%s is already monitored (%s); using it", request["website"], monitoring["id"])
                    return monitoring["id"]
        monitoring = hook.create_monitoring(**request)
        self.log.info("monitoring %s created for %s", monitoring["id"], request["website"])
        return monitoring["id"]


class DiligentBulkCreateMonitoringsOperator(MonitoringOperator):
    """Starts monitoring many websites (``websites`` is templated: it can come from XCom), in
    requests of at most 200, with the same checks and settings for all. Websites already monitored
    are skipped, not failed on (``skip_duplicate``). Returns ``{"created": [{"id", "website"}],
    "duplicates": [website], "requested_at": ISO time}``; ``requested_at`` is a good
    ``executed_after`` for a DiligentExecutionSensor waiting on the first execution.

    :param websites: The websites' URLs (templated list).
    :param checks: The risk checks every monitoring runs.
    :param frequency: As for DiligentCreateMonitoringOperator.
    :param run_now: Run the first executions right away.
    :param expires_at: When the monitorings end (templated).
    :param diligent_conn_id: The Airflow connection to Diligent.
    """

    template_fields: Sequence[str] = ("websites",)

    def __init__(self, *, websites: Any, checks: list[str], frequency: str = "every_2_weeks", run_now: bool = True,
                 expires_at: Any = None, diligent_conn_id: str = "diligent_default", **kwargs: Any):
        super().__init__(conn_id=diligent_conn_id, **kwargs)
        self.websites, self.checks, self.frequency = websites, checks, frequency
        self.run_now, self.expires_at = run_now, expires_at
        if not templated(websites):
            self._items()

    def _items(self) -> list[dict]:
        from airflow_provider_monitoring._http.values import string_list

        websites = string_list(self.websites, "websites")
        return [{"website": site, "checks": self.checks, "frequency": self.frequency, "run_now": self.run_now,
                 "skip_duplicate": True, **({"expires_at": self.expires_at} if self.expires_at else {})}
                for site in websites]

    def execute(self, context: Any) -> dict:
        from airflow_provider_monitoring.hooks.diligent import DiligentHook

        items = self._items()
        hook = DiligentHook(diligent_conn_id=self.conn_id)
        requested_at = datetime.now(timezone.utc).isoformat()
        created: list[dict] = []
        duplicates: list[str] = []
        for start in range(0, len(items), BULK_LIMIT):
            chunk = items[start:start + BULK_LIMIT]
            answer = hook.bulk_create_monitorings(chunk)
            created += [{"id": m["id"], "website": m.get("website")} for m in answer.get("items") or []]
            duplicates += [chunk[d["index"]]["website"] if isinstance(d, dict) and isinstance(d.get("index"), int)
                           else str(d) for d in answer.get("duplicates") or []]
        self.log.info("%d websites: %d monitorings created, %d already monitored",
                      len(items), len(created), len(duplicates))
        return {"created": created, "duplicates": duplicates, "requested_at": requested_at}


class DiligentAlertsOperator(MonitoringOperator):
    """Lists alerts (of one monitoring or all, by execution time window and acknowledged state)
    and returns them, or writes them to ``output_path`` as JSON Lines and returns
    ``{"path", "records", "changed"}``. ``acknowledge=True`` then acknowledges exactly the alerts
    returned, one request each, and no others.

    :param monitoring_id: Only alerts of this monitoring (templated); None for all.
    :param only_unacknowledged: Only alerts not acknowledged yet (default).
    :param execution_time_after: Only alerts of executions after this time (templated).
    :param execution_time_before: Only alerts of executions before this time (templated).
    :param acknowledge: Acknowledge exactly the alerts returned or written.
    :param output_path: Write the alerts there as JSON Lines instead of returning them (templated).
    :param diligent_conn_id: The Airflow connection to Diligent.
    """

    template_fields: Sequence[str] = ("monitoring_id", "execution_time_after", "execution_time_before", "output_path")

    def __init__(self, *, monitoring_id: str | None = None, only_unacknowledged: bool = True,
                 execution_time_after: Any = None, execution_time_before: Any = None, acknowledge: bool = False,
                 output_path: Any = None, diligent_conn_id: str = "diligent_default", **kwargs: Any):
        super().__init__(conn_id=diligent_conn_id, **kwargs)
        self.monitoring_id, self.only_unacknowledged = monitoring_id, only_unacknowledged
        self.execution_time_after, self.execution_time_before = execution_time_after, execution_time_before
        self.acknowledge, self.output_path = acknowledge, output_path

    def execute(self, context: Any) -> Any:
        from airflow_provider_monitoring._export import write_records
        from airflow_provider_monitoring.hooks.diligent import DiligentHook

        hook = DiligentHook(diligent_conn_id=self.conn_id)
        alerts = hook.list_alerts(monitoring_id=self.monitoring_id or None,
                                  only_unacknowledged=self.only_unacknowledged or None,
                                  execution_time_after=self.execution_time_after or None,
                                  execution_time_before=self.execution_time_before or None)
        acknowledged: list[str] = []
        if self.output_path is not None:
            seen: list[str] = []
            summary = write_records(_noting_ids(alerts, seen), self.output_path, "jsonl")
            acknowledged = seen
            result: Any = summary
        else:
            result = list(alerts)
            acknowledged = [alert["id"] for alert in result]
        if self.acknowledge and acknowledged:
            hook.acknowledge_alerts(acknowledged)
            self.log.info("acknowledged %d alerts", len(acknowledged))
        return result


def _noting_ids(alerts: Any, ids: list[str]):
    """Pass alerts through, keeping only their ids: what is acknowledged is exactly what was written."""
    for alert in alerts:
        ids.append(alert["id"])
        yield alert


class DiligentAcknowledgeAlertsOperator(MonitoringOperator):
    """Acknowledges Diligent alerts: exactly ``alert_ids`` or, when it is None, the alerts whose
    asset events started this DAG run (events a ``DiligentAlertEventTrigger`` watcher fired; other
    vendors' events, other kinds and events not fired by a trigger are ignored). Returns
    ``{"acknowledged": [ids], "updated_count", "unacknowledged_count"}``: the two counts as
    Diligent reported them, None when it reported none (its single-alert answer carries no count).

    Put it last, after the tasks that handle the alerts. With the default ``trigger_rule``
    (``all_success``) it runs only when everything upstream succeeded: a failed remediation leaves
    the alerts open in Diligent, to be seen again (``DiligentAlertsOperator``) or acknowledged by
    clearing the failed tasks of the same DAG run, which keeps its triggering events. A watcher
    fires once per alert, so nothing else brings them back. Do not give it a trigger rule that runs
    after failures unless acknowledging unhandled alerts is what you want.

    With no ids (``alert_ids=[]``, or None and no Diligent alert among the triggering events) it
    sends no request, says so in the log and returns an empty ``acknowledged``. Ids are checked
    before any request (a list of non-empty strings; duplicates are acknowledged once). Diligent
    takes one alert per request, so there is one request per id; acknowledging is free and
    idempotent, so a retry after a partial failure simply acknowledges all of them again, as does a
    watcher's repeated event (they are delivered at least once).

    :param alert_ids: The alert ids to acknowledge (templated; a list of strings, e.g. an XComArg
        of an upstream task, or a template rendered as a native list). None (default): the alert
        ids of the DAG run's triggering asset events.
    :param diligent_conn_id: The Airflow connection to Diligent.
    """

    template_fields: Sequence[str] = ("alert_ids",)

    def __init__(self, *, alert_ids: list[str] | None = None, diligent_conn_id: str = "diligent_default",
                 **kwargs: Any):
        super().__init__(conn_id=diligent_conn_id, **kwargs)
        self.alert_ids = alert_ids
        if alert_ids is not None and not _known_only_when_run(alert_ids):
            checked_alert_ids(alert_ids, "alert_ids")

    def execute(self, context: Any) -> dict:
        ids = self._alert_ids_to_acknowledge(context)
        if not ids:
            return {"acknowledged": [], "updated_count": None, "unacknowledged_count": None}
        from airflow_provider_monitoring.hooks.diligent import DiligentHook

        done = DiligentHook(diligent_conn_id=self.conn_id).acknowledge_alerts(ids)
        self.log.info("acknowledged %d Diligent alerts: %s", len(done["acknowledged"]), done["acknowledged"])
        return {key: done[key] for key in ("acknowledged", "updated_count", "unacknowledged_count")}

    def _alert_ids_to_acknowledge(self, context: Any) -> list[str]:
        return self._listed_alert_ids() if self.alert_ids is not None else self._triggering_alert_ids(context)

    def _listed_alert_ids(self) -> list[str]:
        ids = checked_alert_ids(self.alert_ids, "alert_ids")
        if not ids:
            self.log.info("alert_ids is empty: no Diligent alert to acknowledge, no request sent")
        return ids

    def _triggering_alert_ids(self, context: Any) -> list[str]:
        # Absent when execute() is called outside a task run; empty for a run not started by assets.
        from airflow_provider_monitoring.events import distinct_events, vendor_events

        triggering = context.get("triggering_asset_events") or {}
        events, alert_events = distinct_events(triggering), vendor_events(triggering, EVENT_VENDOR, EVENT_KIND)
        # A Diligent alert event without a usable id is refused, not skipped: skipping it would
        # leave an alert open while the run reports success.
        ids = checked_alert_ids([payload.get("alert_id") for payload in alert_events],
                                "the alert_id of the triggering Diligent alert events")
        if not ids:
            self.log.info("no alert_ids given and no Diligent alert among the %d triggering asset events of "
                          "this DAG run: nothing to acknowledge, no request sent", len(events))
        else:
            self.log.info("%d of the %d triggering asset events of this DAG run are Diligent alerts: %s",
                          len(alert_events), len(events), ids)
        return ids


def checked_alert_ids(alert_ids: Any, what: str) -> list[str]:
    """The ids as a list without duplicates (first occurrence kept, surrounding blanks dropped), or
    a ConfigurationError saying what is wrong; an empty list is allowed (nothing to acknowledge)."""
    from airflow_provider_monitoring._http.errors import ConfigurationError

    if not isinstance(alert_ids, (list, tuple)):
        hint = (" (a template renders to text; pass an XComArg such as task.output, or set the DAG's "
                "render_template_as_native_obj=True)" if isinstance(alert_ids, str) else "")
        raise ConfigurationError(f"{what} must be a list of alert id strings, got "
                                 f"{type(alert_ids).__name__} {alert_ids!r}{hint}")
    for position, alert_id in enumerate(alert_ids):
        if not isinstance(alert_id, str) or not alert_id.strip():
            raise ConfigurationError(f"{what} must hold non-empty strings only; item {position} is {alert_id!r}")
    return list(dict.fromkeys(alert_id.strip() for alert_id in alert_ids))


def _known_only_when_run(value: Any) -> bool:
    """Whether the value is a template or holds an XComArg: checked once rendered, not at parse time."""
    from airflow.sdk.definitions._internal.mixins import ResolveMixin

    parts = [value, *value] if isinstance(value, (list, tuple)) else [value]
    return templated(value) or any(isinstance(part, ResolveMixin) for part in parts)
