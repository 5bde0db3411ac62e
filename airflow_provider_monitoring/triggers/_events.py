"""Vendor events for AssetWatchers (docs/design.md, "Vendor events"), written once for the three
vendors: the poll shared by the watchers of one connection, each watcher's cursor in its asset's
state store, and the event payload.

How a watcher works. Airflow's triggerer groups the watchers whose ``shared_stream_key`` match and
runs one ``open_shared_stream`` for the group: here, a loop that reads the vendor's listing once
per interval, from the oldest moment any watcher of the group still needs, and yields what it read
(a :class:`Batch`). Each watcher's ``filter_shared_stream`` registers that moment, keeps only its own
objects, skips what it already announced, and fires one event per new object. A ``run()`` on its
own (tests, ``dag.test()``-like drivers) is the same filter over a stream of its own.

The cursor (``watermark``: when the listing was last read; ``announced``: ids announced at or after
``watermark - SLACK``; ``pending``: runs seen still running, re-read until they end) lives in the
watched asset's state store under a key of the watcher's own, never in the trigger's kwargs. It is
saved one poll behind what was announced: an event yielded to Airflow is persisted by the triggerer
a moment later, so a cursor saved at once could outlive an event lost in a crash; saved at the next
poll, a stop in between (a crash, a restart, a pause) makes the last poll's events come again (at
least once) rather than never.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, ClassVar, Hashable

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_monitoring._http.errors import MonitoringError

log = logging.getLogger(__name__)

# No watcher polls a vendor more often than this (seconds), whatever its poll_interval says.
POLL_FLOOR = 30.0
# Objects may show up in a listing a little after their own time (clock skew, queueing): every read
# reaches this far behind the newest time seen, and announced ids are remembered that long.
SLACK = timedelta(minutes=10)
# "From now on" allows this much: vendors show times to the second, and clocks differ a little.
START_TOLERANCE = timedelta(seconds=2)
# A run seen running is re-read until it ends, for at most this long after it started.
PENDING_FOR = timedelta(days=2)
# The state store key of a watcher's cursor: this, then the watcher's identity (an asset may have
# several watchers; each keeps its own cursor).
CURSOR_KEY = "monitoring_event_cursor"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    from airflow_provider_monitoring._http.values import iso_utc

    return iso_utc(moment)


def parse_moment(text: Any) -> datetime | None:
    """A vendor timestamp as an aware datetime; None when absent or unreadable."""
    from airflow_provider_monitoring._http.values import time_or_none

    return time_or_none(text)


# ---- the cursor ------------------------------------------------------------------------------


@dataclass
class Cursor:
    """Where a watcher stands: see the module docstring."""

    watermark: datetime
    announced: dict[str, str] = field(default_factory=dict)  # id -> object time (ISO)
    pending: dict[str, str] = field(default_factory=dict)  # id -> object time (ISO)

    def reaches_back_to(self) -> datetime:
        """The oldest object time the next read must cover for this watcher: its runs still running,
        and twice SLACK behind its last read, so a run that began before the horizon (before a first
        start, say) and is still running is seen, and announced when it ends."""
        times = [self.watermark - 2 * SLACK] + [moment for moment in map(parse_moment, self.pending.values()) if moment]
        return min(times)

    def forget_old(self) -> None:
        horizon, stale = self.watermark - SLACK, utc_now() - PENDING_FOR
        self.announced = {key: when for key, when in self.announced.items()
                          if (parse_moment(when) or horizon) >= horizon}
        self.pending = {key: when for key, when in self.pending.items() if (parse_moment(when) or stale) >= stale}

    def to_json(self) -> dict[str, Any]:
        return {"watermark": iso(self.watermark), "announced": self.announced, "pending": self.pending}

    @classmethod
    def from_json(cls, value: Any) -> Cursor | None:
        """The stored cursor; None when there is none or it cannot be read (the watcher then starts anew)."""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return None
        if not isinstance(value, dict) or parse_moment(value.get("watermark")) is None:
            return None
        announced, pending = value.get("announced") or {}, value.get("pending") or {}
        if not isinstance(announced, dict) or not isinstance(pending, dict):
            return None
        return cls(parse_moment(value["watermark"]), dict(announced), dict(pending))


class CursorStore:
    """The cursor in the watched asset's state store (Airflow >= 3.3); kept in memory only when the
    trigger runs without one (an older Airflow, a test), which the log says once.

    :param accessors: What the triggerer injects as ``asset_state_store`` (None without one).
    :param name: How the log names the watcher.
    """

    def __init__(self, accessors: Any, name: str, key: str):
        self.accessors, self.name, self.key = accessors, name, key
        self.memory: Any = None

    def _targets(self) -> list[Any]:
        if self.accessors is None:
            return []
        # One watched asset in practice; a trigger shared by several assets keeps the cursor in each.
        found = [*getattr(self.accessors, "_by_name", {}).values(), *getattr(self.accessors, "_by_uri", {}).values()]
        return found or [self.accessors]

    async def load(self) -> Cursor | None:
        targets = self._targets()
        if not targets:
            log.warning("%s: no asset state store here; the cursor lives in memory only", self.name)
            return Cursor.from_json(self.memory)
        cursors = [Cursor.from_json(await target.aget(self.key)) for target in targets]
        cursors = [cursor for cursor in cursors if cursor is not None]
        # Several assets: the one furthest behind, so nothing is skipped (at worst announced twice).
        return min(cursors, key=lambda cursor: cursor.watermark, default=None)

    async def save(self, cursor: Cursor) -> None:
        value = cursor.to_json()
        self.memory = value
        for target in self._targets():
            await target.aset(self.key, value)


# ---- what the shared poll yields -------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """What a vendor's shared read found: ``objects``; ``monitors``, the monitors it read (None:
    every one; a monitor whose read failed is left out, so only its own watchers wait for the next
    read); ``reached``, the oldest time it covered when it had to stop short of ``since``."""

    objects: list[dict]
    monitors: frozenset[str] | None = None
    reached: datetime | None = None


@dataclass(frozen=True)
class Batch:
    """One shared read: the objects whose time is at or after ``since`` (down to ``reached`` when
    the read stopped short; for Datafold, of the monitors in ``monitors``; None: every monitor),
    read at ``read_at``."""

    since: datetime
    read_at: datetime
    objects: tuple[dict, ...]
    monitors: frozenset[str] | None = None
    reached: datetime | None = None


@dataclass
class _Need:
    since: datetime
    monitors: frozenset[str] | None


# Per event loop, per shared stream key: what each watcher of the group needs the next read to cover.
_NEEDS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, dict[int, _Need]]] = (
    weakref.WeakKeyDictionary())


def _needs_of(key: Hashable) -> dict[int, _Need]:
    return _NEEDS.setdefault(asyncio.get_running_loop(), {}).setdefault(key, {})


# ---- the trigger ---------------------------------------------------------------------------------


class MonitoringEventTrigger(BaseEventTrigger):
    """Base of the three vendors' event triggers (AssetWatchers): the shared poll, the cursor, the
    payload. A vendor's trigger writes its own ``serialize()`` and says what its listing holds.

    :param conn_id: The Airflow connection (each vendor's trigger takes ``<vendor>_conn_id``).
    :param poll_interval: Seconds between polls; at least POLL_FLOOR (30) is used.
    :param look_back: On a first start (no cursor yet), also announce objects of this many seconds
        before the start (default 0: only what happens from now on).
    """

    vendor: ClassVar[str]
    kind: ClassVar[str]  # "run" or "alert"
    hook_path: ClassVar[str]  # the vendor hook, as "module.Class" (see triggers/base.py, hook_of)

    def __init__(self, conn_id: str, poll_interval: float = 300.0, look_back: float = 0.0):
        super().__init__()
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        self.look_back = float(look_back)

    # ---- what each vendor provides ----------------------------------------------------------

    def make_hook(self) -> Any:
        from airflow_provider_monitoring.triggers.base import hook_of

        return hook_of(self.hook_path, self.conn_id)

    def listing(self) -> tuple[Any, ...]:
        """Names the listing the shared poll reads (watchers of one connection and listing share it)."""
        raise NotImplementedError

    def monitors(self) -> frozenset[str] | None:
        """The monitors the shared read must include for this watcher (None: it reads them all)."""
        return None

    async def read_objects(self, hook: Any, since: datetime, monitors: frozenset[str] | None) -> Read:
        """The objects whose time is at or after ``since`` (the shared read; only what the listing's
        name in the shared key says may shape it, as any watcher of the group may read)."""
        raise NotImplementedError

    def object_id(self, item: dict) -> str | None:
        raise NotImplementedError

    def object_time(self, item: dict) -> datetime | None:
        """The time the listing orders and filters by."""
        raise NotImplementedError

    def ended(self, item: dict) -> bool:
        """Whether the object is final (a run that ended; an alert always is)."""
        return True

    def watches(self, item: dict) -> bool:
        """Whether the object is one of this watcher's (its monitor, its type): only those are
        tracked in its cursor."""
        raise NotImplementedError

    def announces(self, item: dict) -> bool:
        """Whether this watcher announces the final object (e.g. only runs with changes)."""
        return True

    def payload(self, item: dict, base_url: str) -> dict[str, Any]:
        raise NotImplementedError

    def cursor_key(self) -> str:
        """The state store key of this watcher's cursor: what it watches, not how often it looks."""
        import hashlib

        _path, kwargs = self.serialize()
        identity = {name: value for name, value in kwargs.items() if name not in ("poll_interval", "look_back")}
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]
        return f"{CURSOR_KEY}:{self.vendor}:{self.kind}:{digest}"

    # ---- the shared poll --------------------------------------------------------------------

    @property
    def interval(self) -> float:
        return max(POLL_FLOOR, self.poll_interval)

    def shared_stream_key(self) -> Hashable:
        return (self.vendor, self.conn_id, self.listing(), self.interval)

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[Batch]:
        """One read per interval for every watcher of the group, from the oldest moment any of them
        needs. Never raises: an API error is logged and backed off (Retry-After honoured), the
        stream goes on."""
        watcher = cls(**kwargs)
        key = watcher.shared_stream_key()
        async with await watcher._opened_hook() as hook:
            while True:
                started = time.monotonic()
                needs = list(_needs_of(key).values())
                if not needs:  # the watchers have not registered yet: in a moment
                    await asyncio.sleep(0.05)
                    continue
                since = min(need.since for need in needs)
                monitors = None if any(need.monitors is None for need in needs) else frozenset().union(
                    *(need.monitors for need in needs))
                try:
                    found = await watcher.read_objects(hook, since, monitors)
                except MonitoringError as exc:
                    # Never sooner than the interval (the floor holds on errors too); later when asked.
                    pause = max(watcher.interval, getattr(exc, "retry_after", None) or 0.0)
                    log.warning("%s events on connection %r: the poll failed (%s); trying again in %.0f s",
                                cls.vendor.capitalize(), watcher.conn_id, exc, pause)
                    await asyncio.sleep(pause)
                    continue
                except Exception:  # never out of the stream: every watcher of the group would end
                    log.exception("%s events on connection %r: the poll failed unexpectedly; trying again",
                                  cls.vendor.capitalize(), watcher.conn_id)
                    await asyncio.sleep(watcher.interval)
                    continue
                covered = monitors if found.monitors is None else found.monitors
                yield Batch(since, utc_now(), tuple(found.objects), covered, found.reached)
                await asyncio.sleep(max(0.0, started + watcher.interval - time.monotonic()))

    async def _opened_hook(self) -> Any:
        """A hook whose connection could be read, however long that takes: a missing or broken
        connection is logged and tried again at every interval, never raised out of a watcher."""
        while True:
            hook = self.make_hook()
            try:
                await hook.asettings()
                return hook
            except Exception as exc:
                log.warning("%s events: connection %r cannot be used (%s); trying again in %.0f s",
                            self.vendor.capitalize(), self.conn_id, exc, self.interval)
                await asyncio.sleep(self.interval)

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Batch]) -> AsyncIterator[TriggerEvent]:
        name = f"{self.vendor.capitalize()} {self.kind} watcher on connection {self.conn_id!r}"
        store = CursorStore(self.asset_state_store, name, self.cursor_key())
        cursor = await self._start_cursor(store, name)
        base_url = (await (await self._opened_hook()).asettings()).base_url
        needs, token = _needs_of(self.shared_stream_key()), id(self)
        needs[token] = _Need(cursor.reaches_back_to(), self.monitors())
        to_save: Cursor | None = None
        try:
            async for batch in shared_stream:
                if not self._covers(batch, needs[token]):
                    continue  # read before this watcher needed it: the next one will be
                if to_save is not None:  # one poll behind what was announced (module docstring)
                    await self._save(store, to_save, name)
                for item in self._new_objects(batch, cursor):
                    yield TriggerEvent(self.payload(item, base_url))
                to_save = Cursor(cursor.watermark, dict(cursor.announced), dict(cursor.pending))
                needs[token] = _Need(cursor.reaches_back_to(), self.monitors())
        finally:
            needs.pop(token, None)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """The watcher alone: its own poll, through the same filter."""
        async for event in self.filter_shared_stream(type(self).open_shared_stream(self.serialize()[1])):
            yield event

    # ---- the filter's parts -------------------------------------------------------------------

    async def _start_cursor(self, store: CursorStore, name: str) -> Cursor:
        while True:
            try:
                cursor = await store.load()
                break
            except Exception as exc:
                # Not "no cursor": starting from now would drop what happened while it was down.
                log.warning("%s: could not read its cursor (%s); trying again in %.0f s", name, exc, self.interval)
                await asyncio.sleep(self.interval)
        if cursor is not None:
            log.info("%s: catching up from %s", name, iso(cursor.watermark))
            return cursor
        start = utc_now() - timedelta(seconds=self.look_back) - START_TOLERANCE
        log.info("%s: no cursor yet; announcing what happens from %s on%s", name, iso(start),
                 f" (look_back={self.look_back:g} s)" if self.look_back else "")
        # The watermark starts SLACK ahead of the start, so the first reads reach back to it exactly.
        return Cursor(start + SLACK)

    @staticmethod
    async def _save(store: CursorStore, cursor: Cursor, name: str) -> None:
        try:
            await store.save(cursor)
        except Exception as exc:  # a lost save means a repeat after a restart, never a loss
            log.warning("%s: could not save its cursor (%s); after a restart, events may come again", name, exc)

    def _covers(self, batch: Batch, need: _Need) -> bool:
        """Whether the read reached back as far as this watcher needs, for some of its monitors."""
        mine = self.monitors()
        return batch.since <= need.since and (batch.monitors is None or mine is None or bool(mine & batch.monitors))

    def _read_all_of_mine(self, batch: Batch) -> bool:
        mine = self.monitors()
        return batch.monitors is None or mine is None or mine <= batch.monitors

    def _new_objects(self, batch: Batch, cursor: Cursor) -> list[dict]:
        """The objects to announce from ``batch``, oldest first; ``cursor`` moves past them."""
        fresh: list[tuple[datetime, dict]] = []
        horizon = cursor.watermark - SLACK
        for item in batch.objects:
            key = self.object_id(item)
            if key is None or not self.watches(item):
                continue
            when = self.object_time(item) or batch.read_at  # not started yet (queued): seen now
            if key in cursor.announced:
                continue
            if not self.ended(item):  # running, even since before the horizon: announced when it ends
                cursor.pending.setdefault(key, iso(when))
                continue
            if when < horizon and key not in cursor.pending:
                continue
            cursor.pending.pop(key, None)
            cursor.announced[key] = iso(when)
            if self.announces(item):
                fresh.append((when, item))
        # Everything up to this read has been seen (down to ``reached`` when the read stopped short);
        # what shows up later than SLACK behind is missed.
        seen_up_to = batch.read_at if batch.reached is None else min(batch.read_at, batch.reached + SLACK)
        if self._read_all_of_mine(batch):  # else a monitor of it failed to read: its runs are still to come
            cursor.watermark = max(cursor.watermark, seen_up_to)
        cursor.forget_old()
        return [item for _when, item in sorted(fresh, key=lambda pair: pair[0])]


def event_payload(vendor: str, kind: str, object_id: str, monitor_id: Any, outcome: str, vendor_state: Any,
                  occurred_at: datetime | None, url: str, item: dict, unique_id: str | None = None) -> dict[str, Any]:
    """The documented event payload (docs/design.md, "Vendor events"): plain JSON. ``unique_id``:
    what makes the object unique at the vendor when its id alone may not (default: its id)."""
    return {
        "vendor": vendor,
        "kind": kind,
        "event_id": f"{vendor}:{kind}:{unique_id or object_id}",
        "monitor_id": None if monitor_id is None else str(monitor_id),
        f"{kind}_id": object_id,
        "outcome": outcome,
        "vendor_state": None if vendor_state is None else str(vendor_state),
        "occurred_at": iso(occurred_at) if occurred_at else None,
        "url": url,
        "object": item,
    }
