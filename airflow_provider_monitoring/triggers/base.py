"""The trigger every vendor's run wait is: one aiohttp session, the shared loop, one event."""

from __future__ import annotations

import math
from typing import Any, AsyncIterator, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_monitoring._http.hook import MonitoringHook
from airflow_provider_monitoring._waiting import RunState, wait_for_run


class MonitoringRunTrigger(BaseTrigger):
    """Waits for one run to leave ``running`` and fires the DESIGN.md event payload.

    Built from primitives only (ids, the connection id, the poll interval, a wall-clock deadline in
    epoch seconds), so its serialized form never holds the API key: the key is read from the
    connection inside the triggerer, without blocking the event loop.
    """

    vendor: ClassVar[str]  # the event's "vendor" value
    conn_kwarg: ClassVar[str]  # the vendor's conn id keyword, e.g. "encrata_conn_id"

    def __init__(self, monitor_id: Any, run_id: Any, conn_id: str, poll_interval: float = 30.0,
                 deadline: float | None = None, not_found_until: float | None = None):
        super().__init__()
        self.monitor_id = monitor_id
        self.run_id = run_id
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.not_found_until = not_found_until

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                **self.identity_kwargs(),
                self.conn_kwarg: self.conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                **self.extra_kwargs(),
            },
        )

    def identity_kwargs(self) -> dict[str, Any]:
        """What the wait is for, under the vendor constructor's own argument names."""
        return {"monitor_id": self.monitor_id, "run_id": self.run_id}

    def finish(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event as fired; a vendor may complete it (e.g. with the id of what was found)."""
        return event

    def extra_kwargs(self) -> dict[str, Any]:
        """A vendor's own constructor arguments (primitives only) to serialize."""
        return {}

    def make_hook(self) -> MonitoringHook:
        raise NotImplementedError

    async def read_state(self, hook: Any) -> RunState:
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # One session for the whole wait (async with), however many polls it takes.
        async with self.make_hook() as hook:
            event = await wait_for_run(
                lambda: self.read_state(hook),
                vendor=self.vendor,
                monitor_id=self.monitor_id,
                run_id=self.run_id,
                deadline=math.inf if self.deadline is None else float(self.deadline),
                poll_interval=self.poll_interval,
                not_found_until=self.not_found_until,
            )
        yield TriggerEvent(self.finish(event))

    async def on_kill(self) -> None:
        """A user marked or cleared the deferred task (Airflow >= 3.3; never on a triggerer restart,
        which is why nothing here lives in ``cleanup()``). Encrata and Diligent document no call
        that stops a run, so the run is named, with its link, and left to finish."""
        self.log.warning("%s run %s of monitor %s keeps running: %s documents no way to cancel it; %s",
                         self.vendor.capitalize(), self.run_id, self.monitor_id, self.vendor.capitalize(),
                         await self.monitor_link())

    async def monitor_link(self) -> str:
        """Where to see the monitor in the vendor's UI, or why there is no link."""
        try:
            async with self.make_hook() as hook:
                url = self.link_for(hook.settings.base_url)
        except Exception as exc:  # a log line must not fail: say why the link is missing
            return f"no link ({exc})"
        return f"see {url}" if url else "the vendor documents no page to link to"

    def link_for(self, base_url: str) -> str:
        """The monitor's page in the vendor's UI ("" when the vendor documents none)."""
        return ""
