"""What every vendor's run operator does: start a run, push its id and link, wait, settle."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, ClassVar, Sequence

from airflow.sdk import BaseOperator, BaseOperatorLink, BaseXCom

from airflow_provider_monitoring._http.values import choice
from airflow_provider_monitoring._waiting import (
    ON_ALERT, ON_ERROR, default_deferrable, settle, validate_event, wait_blocking,
)

DEFAULT_TIMEOUT = 7 * 24 * 3600.0


class MonitorLink(BaseOperatorLink):
    """A link to the monitor in the vendor's UI, pushed to XCom by the operator before it waits."""

    name = "Monitor"

    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        return BaseXCom.get_value(ti_key=ti_key, key=self.xcom_key) or ""


class MonitoringRunOperator(BaseOperator):
    """Starts a run and, by default, waits for it (deferred, or polling in the worker); returns
    the run id. ``on_alert`` = ``"fail"`` / ``"succeed"`` / ``"skip"``; ``on_error`` = ``"fail"`` /
    ``"skip"`` for an API error during the wait (never a pass); ``timeout`` seconds in all."""

    vendor: ClassVar[str]
    link: ClassVar[MonitorLink]
    template_fields: Sequence[str] = ("monitor_id",)

    def __init__(self, *, monitor_id: Any, conn_id: str, wait_for_completion: bool = True,
                 deferrable: bool | None = None, poll_interval: float = 60.0,
                 timeout: float | timedelta = DEFAULT_TIMEOUT, on_alert: str = "fail", on_error: str = "fail",
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.monitor_id = monitor_id
        self.conn_id = conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poll_interval = float(poll_interval)
        self.timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
        self.on_alert = choice(on_alert, ON_ALERT, "on_alert")
        self.on_error = choice(on_error, ON_ERROR, "on_error")

    # ---- what each vendor provides ----------------------------------------------------------

    def make_hook(self) -> Any:
        raise NotImplementedError

    def start_run(self, hook: Any, context: Any) -> Any:
        raise NotImplementedError

    def read_state(self, hook: Any, run_id: Any) -> Any:
        raise NotImplementedError

    def make_trigger(self, run_id: Any, deadline: float) -> Any:
        raise NotImplementedError

    def monitor_url(self, hook: Any) -> str:
        raise NotImplementedError

    # ---- the shared part --------------------------------------------------------------------

    def execute(self, context: Any) -> Any:
        hook = self.make_hook()
        run_id = self.start_run(hook, context)
        ti = context["ti"]
        ti.xcom_push(key="run_id", value=run_id)
        ti.xcom_push(key=self.link.xcom_key, value=self.monitor_url(hook))
        if not self.wait_for_completion:
            return run_id
        deadline = time.time() + self.timeout
        if self.deferrable:
            self.defer(trigger=self.make_trigger(run_id, deadline), method_name="execute_complete")
        event = wait_blocking(lambda: self.read_state(hook, run_id), vendor=self.vendor,
                              monitor_id=self.monitor_id, run_id=run_id, deadline=deadline,
                              poll_interval=self.poll_interval)
        self.log.info("%s", event["message"])
        settle(event, self.on_alert, self.on_error)
        return run_id

    def execute_complete(self, context: Any, event: Any = None) -> Any:
        event = validate_event(event, self.vendor)
        self.log.info("%s", event["message"])
        settle(event, self.on_alert, self.on_error)
        return self.run_id_from(event)

    def run_id_from(self, event: dict) -> Any:
        """The run id as the vendor types it (events carry ids as text)."""
        return event["run_id"]
