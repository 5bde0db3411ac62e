"""The trigger every vendor's run wait is: a shared read per connection, the shared loop, one event."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, AsyncIterator, ClassVar, Hashable

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_monitoring._vendors import monitor_url
from airflow_provider_monitoring._waiting import RunState, wait_for_run
from airflow_provider_monitoring.triggers._feed import FeedKey, Listing, Subscription, feed_for, leave

if TYPE_CHECKING:  # hooks load where a wait runs, not where a DAG that defers to it is parsed
    from airflow_provider_monitoring.hooks.base import MonitoringHook

__all__ = ["MonitoringRunTrigger"]


def hook_of(path: str, conn_id: str, **overrides: Any) -> MonitoringHook:
    """The vendor hook ``path`` names (``module.Class``) on ``conn_id``: imported where a trigger
    runs, never where a DAG that defers to it is parsed."""
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)(conn_id, **overrides)


class MonitoringRunTrigger(BaseTrigger):
    """Waits until what a vendor's trigger waits for ends, and fires the docs/design.md event payload.

    The base keeps the loop (the shared wait loop, one event) and joins the wait to the feed of its
    connection's listing (``triggers/_feed.py``): all waits in one event loop that one listing can
    answer share one read per interval and one aiohttp session. Each vendor's trigger keeps its own
    identity (ids), writes its own ``serialize()``, says which listing answers it and how, reads the
    state on its own when the listing does not hold it, and names what it waits for. Every trigger is built from
    primitives only (ids, the connection id, the poll interval, a wall-clock deadline in epoch
    seconds), so its serialized form never holds the API key: the key is read from the connection
    inside the triggerer, without blocking the event loop.

    :param conn_id: The Airflow connection (each vendor's trigger takes ``<vendor>_conn_id``).
    :param poll_interval: Seconds between reads.
    :param deadline: Wall-clock end of the wait, in epoch seconds (None: no end).
    """

    vendor: ClassVar[str]  # the event's "vendor" value
    hook_path: ClassVar[str]  # the vendor hook, as "module.Class" (see hook_of)
    # Until when (epoch seconds) a "not found" means "not visible yet"; set for a run just started.
    not_found_until: float | None = None

    def __init__(self, conn_id: str, poll_interval: float = 30.0, deadline: float | None = None):
        super().__init__()
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline

    # ---- what each vendor provides ----------------------------------------------------------

    def event_ids(self) -> tuple[Any, Any]:
        """(monitor id, run id) as the event names them; the run id is None while unknown."""
        raise NotImplementedError

    def subject(self) -> str:
        """What the wait is for, as messages name it."""
        raise NotImplementedError

    def make_hook(self) -> MonitoringHook:
        return hook_of(self.hook_path, self.conn_id)

    async def read_state(self, hook: Any) -> RunState:
        """This wait's own read, for when the shared listing does not hold its answer."""
        raise NotImplementedError

    def listing(self) -> tuple[Any, ...]:
        """Names the listing that answers this wait (with the monitor, for a per-monitor listing):
        waits whose names match, on one connection and one interval, share its read."""
        raise NotImplementedError

    def need(self) -> Hashable:
        """What this wait looks for in the listing (handed to ``read_listing`` and ``state_of``)."""
        raise NotImplementedError

    @staticmethod
    async def read_listing(hook: Any, key: FeedKey, needs: frozenset, previous: Any) -> Listing:
        """One shared read, sized for the ``needs`` of every open wait of ``key``; ``previous`` is
        the feed's last listing (None at first), for what one read learns for the next."""
        raise NotImplementedError

    def remember(self, state: RunState) -> None:
        """Called with every state read; a vendor may keep what a later call needs."""

    def finish(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event as fired; a vendor may complete it (e.g. with the id of what was found)."""
        return event

    # ---- the loop ---------------------------------------------------------------------------

    async def run(self) -> AsyncIterator[TriggerEvent]:
        monitor_id, run_id = self.event_ids()
        deadline = math.inf if self.deadline is None else float(self.deadline)
        key = FeedKey(self.vendor, self.conn_id, self.listing(), self.poll_interval)
        need = self.need()
        hash(need)  # an unusable need fails here, before a feed (and its session) exists for it
        feed = feed_for(key, self.make_hook, type(self).read_listing)
        feed.add(need)
        try:
            subscription = Subscription(feed, need, deadline, self.read_state)
            event = await wait_for_run(
                lambda: self._remembered(subscription.read()),
                vendor=self.vendor,
                monitor_id=monitor_id,
                run_id=run_id,
                subject=self.subject(),
                deadline=deadline,
                poll_interval=self.poll_interval,
                not_found_until=self.not_found_until,
                sleep=subscription.pause,
            )
        finally:
            await leave(feed, need)  # the last wait out stops the feed and closes its session
        self.log.info("%s: %s after %s", self.subject(), event["status"], subscription.summary())
        yield TriggerEvent(self.finish(event))

    async def _remembered(self, reading: Any) -> RunState:
        state = await reading
        self.remember(state)
        return state

    async def on_kill(self) -> None:
        """A user marked or cleared the deferred task (Airflow >= 3.3; never on a triggerer restart,
        which is why nothing here lives in ``cleanup()``). Where the vendor documents no call that
        stops a run (Encrata), the run is named, with its link, and left to finish."""
        self.log.warning("%s keeps running: %s documents no way to cancel it; %s",
                         self.subject(), self.vendor.capitalize(), await self.monitor_link())

    async def monitor_link(self) -> str:
        """Where to see the monitor in the vendor's UI, or why there is no link."""
        try:
            url = self.link_for((await self.make_hook().asettings()).base_url)  # no HTTP session needed
        except Exception as exc:  # a log line must not fail: say why the link is missing
            return f"no link ({exc})"
        return f"see {url}" if url else "the vendor documents no page to link to"

    def link_for(self, base_url: str) -> str:
        """The monitor's page in the vendor's UI ("" when the vendor documents none)."""
        return monitor_url(base_url, self.event_ids()[0])
