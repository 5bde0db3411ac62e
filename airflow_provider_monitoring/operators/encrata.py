"""Encrata operators: create a monitor, trigger (and wait for) a run.

Importing this module costs little: hooks and triggers are imported when a task runs, not when the
DAG processor parses the file.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any, Sequence

from airflow_provider_monitoring.lineage import MonitoringLineageMixin
from airflow_provider_monitoring.operators.base import (
    DEFAULT_TIMEOUT, MonitoringOperator, MonitoringRunOperator, MonitorLink, RunSummary, run_time,
    templated,
)

__all__ = ["EncrataCreateMonitorOperator", "EncrataMonitorLink", "EncrataRunResultsOperator", "EncrataTriggerRunOperator"]


class EncrataMonitorLink(MonitorLink):
    """The monitor in Encrata's dashboard, pushed by the operator before it waits."""

    name = "Encrata monitor"


class EncrataCreateMonitorOperator(MonitoringOperator):
    """Creates an Encrata monitor and returns its id (the XCom return value).

    Everything is checked before any request (monitor type, frequency, change detection, the data
    source, ``emails`` for an email monitor and ``targets`` for any other type); creating is free.

    :param name: The monitor's name (templated).
    :param monitor_type: ``email`` (default), ``phone``, ``domain``, ``ip``, ``company`` or ``darkweb``.
    :param emails: The emails to watch, for an email monitor (templated).
    :param targets: The targets to watch, for any other type (templated).
    :param frequency: How often Encrata runs the monitor (a documented frequency), or None for its default.
    :param change_detection: The documented change-detection mode, or None for the default.
    :param data_source_type: Where the targets come from, when not listed here.
    :param data_source_ref: The data source's reference (templated), with ``data_source_type``.
    :param encrata_conn_id: The Airflow connection to Encrata.
    """

    template_fields: Sequence[str] = ("name", "emails", "targets", "data_source_ref")

    def __init__(self, *, name: str, monitor_type: str = "email", emails: list[str] | None = None,
                 targets: list[str] | None = None, frequency: str | None = None,
                 change_detection: str | None = None, data_source_type: str | None = None,
                 data_source_ref: str | None = None, encrata_conn_id: str = "encrata_default", **kwargs: Any):
        super().__init__(conn_id=encrata_conn_id, **kwargs)
        self.name, self.monitor_type = name, monitor_type
        self.emails, self.targets = emails, targets
        self.frequency, self.change_detection = frequency, change_detection
        self.data_source_type, self.data_source_ref = data_source_type, data_source_ref
        if not templated(name, emails, targets, data_source_ref):
            self._payload()  # bad arguments fail at parse time, where the author sees them first

    def _payload(self) -> dict:
        from airflow_provider_monitoring.hooks.encrata import monitor_payload

        return monitor_payload(self.name, self.monitor_type, self.emails, self.targets, self.frequency,
                               self.change_detection, self.data_source_type, self.data_source_ref)

    def execute(self, context: Any) -> str:
        from airflow_provider_monitoring.hooks.encrata import EncrataHook

        self._payload()  # once more with the rendered values, still before any request
        monitor = EncrataHook(encrata_conn_id=self.conn_id).create_monitor(
            self.name, monitor_type=self.monitor_type, emails=self.emails, targets=self.targets,
            frequency=self.frequency, change_detection=self.change_detection,
            data_source_type=self.data_source_type, data_source_ref=self.data_source_ref,
        )
        self.log.info("created Encrata monitor %s (%s)", monitor["id"], self.name)
        return monitor["id"]


class EncrataTriggerRunOperator(MonitoringRunOperator):
    """Triggers a run of an Encrata monitor and, by default, waits for it; returns the run id.

    A run costs one credit per target of the monitor. The run id (XCom key ``run_id``) and a link
    to the monitor are pushed before the wait starts. The wait is deferred (``deferrable``, default
    Airflow's ``operators.default_deferrable``) or polls in the worker; ``poll_interval`` seconds
    between reads, ``timeout`` seconds in all, after which the task fails saying so.

    Retries never pay twice for one intent: the run a try started is recorded in Airflow's task
    state store, and a retry waits for it while it runs, returns it if it succeeded, and triggers a
    new run only if it failed (see the README, "Retries and crashes", for Airflow without the store).
    ``reuse_recent_run`` (seconds or timedelta): a run of the monitor in progress, or one that
    completed successfully no longer ago than this, is used instead of a new paid run.
    ``force_new_run=True`` never takes a run this task did not start (a retry still resumes its own).
    ``on_error="skip"`` skips instead of failing when the wait ends on an API error.

    :param monitor_id: The monitor to run (templated).
    :param wait_for_completion: Wait for the run to end (default) or return right after triggering it.
    :param deferrable: Wait in the triggerer (default: Airflow's ``operators.default_deferrable``).
    :param poll_interval: Seconds between reads of the run.
    :param timeout: Seconds (or a timedelta) to wait in all.
    :param force_new_run: Never take a run this task did not start.
    :param reuse_recent_run: Seconds or a timedelta: use a run in progress, or one that succeeded no
        longer ago, instead of paying for a new one.
    :param encrata_conn_id: The Airflow connection to Encrata.
    """

    vendor = "encrata"
    link = EncrataMonitorLink()
    operator_extra_links = (EncrataMonitorLink(),)

    def __init__(self, *, monitor_id: str, wait_for_completion: bool = True, deferrable: bool | None = None,
                 poll_interval: float = 60.0, timeout: float | timedelta = DEFAULT_TIMEOUT,
                 force_new_run: bool = False, reuse_recent_run: float | timedelta | None = None,
                 encrata_conn_id: str = "encrata_default", **kwargs: Any):
        super().__init__(monitor_id=monitor_id, conn_id=encrata_conn_id, wait_for_completion=wait_for_completion,
                         deferrable=deferrable, poll_interval=poll_interval, timeout=timeout,
                         force_new_run=force_new_run, reuse_recent_run=reuse_recent_run, **kwargs)

    def make_hook(self):
        from airflow_provider_monitoring.hooks.encrata import EncrataHook

        return EncrataHook(encrata_conn_id=self.conn_id)

    def start_run(self, hook: Any, context: Any) -> str:
        run_id = hook.trigger_run(self.monitor_id)["run_id"]
        self.log.info("triggered Encrata run %s of monitor %s", run_id, self.monitor_id)
        return run_id

    def read_state(self, hook: Any, run_id: Any):
        return hook.get_run_state(self.monitor_id, run_id)

    def recent_runs(self, hook: Any) -> list[RunSummary]:
        from airflow_provider_monitoring.hooks.encrata import PAGE_LIMIT, RUN_OUTCOMES

        # The listing's order is undocumented: the base judges the first page by the runs' own times.
        return [
            RunSummary(str(run["id"]), RUN_OUTCOMES.get(run.get("status"), "failed"), run.get("status"),
                       run_time(run, "started_at"), run_time(run, "completed_at"))
            for run in itertools.islice(hook.list_monitor_runs(self.monitor_id), PAGE_LIMIT)
            if run.get("id") is not None
        ]

    def read_evidence(self, hook: Any, event: dict):
        from airflow_provider_monitoring.results.encrata import read_evidence

        return read_evidence(hook, self.monitor_id, event["run"])

    def make_trigger(self, run_id: Any, deadline: float, not_found_until: float | None):
        from airflow_provider_monitoring.triggers.encrata import EncrataRunTrigger

        return EncrataRunTrigger(self.monitor_id, run_id, encrata_conn_id=self.conn_id,
                                 poll_interval=self.poll_interval, deadline=deadline,
                                 not_found_until=not_found_until)


class EncrataRunResultsOperator(MonitoringLineageMixin, MonitoringOperator):
    """Fetches every result record of a run (``changes_only`` to keep only changed targets).

    Without ``output_path`` the records are the XCom return value, up to ``max_xcom_records``
    (XCom lives in Airflow's database; past the bound the task fails and says to use
    ``output_path``). With ``output_path`` (a local path, an ``ObjectStoragePath`` or a URI such as
    ``s3://bucket/key``) pages stream to the file as ``jsonl`` or ``csv`` (CSV flattens ``data.*``
    and ``changes.<field>.old/new`` into columns) and the task returns
    ``{"path", "records", "changed"}``; memory stays flat however many records there are.
    ``use_vendor_csv=True`` saves Encrata's own CSV export (``/results/download``) to a local
    ``output_path`` instead (its columns are Encrata's, and its record counts are not known).

    :param monitor_id: The monitor (templated).
    :param run_id: The run whose results to fetch (templated).
    :param changes_only: Keep only records with changes.
    :param output_path: Where to write the records (local path, ObjectStoragePath or URI; templated);
        None returns them as XCom.
    :param output_format: ``jsonl`` (default) or ``csv``.
    :param use_vendor_csv: Save Encrata's own CSV export instead (local ``output_path``, csv).
    :param max_xcom_records: The most records returned as XCom before the task asks for ``output_path``.
    :param encrata_conn_id: The Airflow connection to Encrata.
    """

    template_fields: Sequence[str] = ("monitor_id", "run_id", "output_path")

    def __init__(self, *, monitor_id: str, run_id: str, changes_only: bool = False, output_path: Any = None,
                 output_format: str = "jsonl", use_vendor_csv: bool = False, max_xcom_records: int = 1000,
                 encrata_conn_id: str = "encrata_default", **kwargs: Any):
        super().__init__(conn_id=encrata_conn_id, **kwargs)
        from airflow_provider_monitoring._export import FORMATS

        if output_format not in FORMATS:
            raise ValueError(f"unknown output_format {output_format!r}; expected one of: {', '.join(FORMATS)}")
        if use_vendor_csv and (output_path is None or output_format != "csv" or changes_only):
            raise ValueError("use_vendor_csv needs output_path and output_format='csv', and exports every record")
        self.monitor_id, self.run_id = monitor_id, run_id
        self.changes_only = changes_only
        self.output_path, self.output_format = output_path, output_format
        self.use_vendor_csv = use_vendor_csv
        self.max_xcom_records = max_xcom_records

    def execute(self, context: Any) -> Any:
        from airflow_provider_monitoring._export import collect_records, write_records
        from airflow_provider_monitoring.hooks.encrata import EncrataHook

        hook = EncrataHook(encrata_conn_id=self.conn_id)
        if self.use_vendor_csv:
            self.push_run_result(hook, context)
            saved = hook.download_run_results(self.monitor_id, self.run_id, self.output_path)
            self.log.info("saved Encrata's CSV of run %s to %s (%d bytes)", self.run_id, saved["path"], saved["bytes"])
            return {"path": saved["path"], "records": None, "changed": None}
        self.push_run_result(hook, context)
        records = hook.get_run_results(self.monitor_id, self.run_id, changes_only=self.changes_only)
        if self.output_path is None:
            return collect_records(records, self.max_xcom_records)
        summary = write_records(records, self.output_path, self.output_format)
        self.log.info("wrote %(records)d records (%(changed)d changed) to %(path)s", summary)
        return summary

    def push_run_result(self, hook: Any, context: Any) -> None:
        """The run's ``monitoring_result``, as the run operator pushes it (once the run ended),
        before the export, so a failed export still has it. A run that cannot be read gets none;
        the export goes on and says so itself."""
        from airflow_provider_monitoring._http.errors import MonitoringError
        from airflow_provider_monitoring._vendors import monitor_url
        from airflow_provider_monitoring.results.base import push_result, result_of_run
        from airflow_provider_monitoring.results.encrata import read_evidence

        try:
            state = hook.get_run_state(self.monitor_id, self.run_id)
        except MonitoringError as exc:
            self.log.warning("no monitoring_result for Encrata run %s: %s", self.run_id, exc)
            return
        result = result_of_run(state, "encrata", self.monitor_id, self.run_id,
                               monitor_url(hook.settings.base_url, self.monitor_id),
                               lambda: read_evidence(hook, self.monitor_id, state.run))
        if result is not None:
            push_result(self, context, result)
