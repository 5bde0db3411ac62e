"""One read per poll interval for every wait that one vendor listing can answer (docs/design.md,
"Shared waits").

A triggerer runs all its triggers in one event loop. The waits of this provider on one connection
mostly ask the same question of the same listing (Encrata's all-runs listing, Diligent's executions
and monitorings, one Datafold monitor's runs), so per event loop and per :class:`FeedKey` one
:class:`Feed` reads that listing once per interval and publishes a :class:`Snapshot`; each wait
finds its own answer in it and falls back to its own read only when the listing does not hold it
(a run too old for the walk, one not visible yet). A wait run on its own (``dag.test()``) is simply
the only subscriber of its feed.

Why not Airflow 3.3's shared streams (``BaseEventTrigger.shared_stream_key``): their producer sees
one trigger's kwargs, not the set of open waits, so it cannot size the read to cover them; a
producer that raises ends every subscriber, where a rate limit must only slow them; a subscriber
reads a queue of every event rather than the newest snapshot, and cannot wait for the next one with
a deadline without cancelling its stream; and this provider supports Airflow 3.0 onwards.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import weakref
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Hashable, Protocol

from airflow_provider_monitoring._http.errors import ACCOUNT_ERRORS, MonitoringError
from airflow_provider_monitoring._waiting import RunState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedKey:
    """Which waits share a read: same vendor listing (``listing`` names it, with the monitor for a
    per-monitor listing), same connection, same poll interval (a wait never polls faster or slower
    than it asked)."""

    vendor: str
    conn_id: str
    listing: tuple[Any, ...]
    poll_interval: float


class Listing(Protocol):
    """What a feed read: answers for the waits it covers."""

    def state_of(self, need: Hashable) -> RunState | None:
        """The wait's state as this listing shows it; None when the listing does not hold it (the
        wait then reads on its own)."""


# Reads the listing for the needs of every open wait: (the feed's hook, its key, the needs, the
# feed's previous listing or None, for what a read learns for the next one).
ReadListing = Callable[[Any, "FeedKey", frozenset, Any], Awaitable[Listing]]


@dataclass(frozen=True)
class Snapshot:
    """One shared read: ``listing`` on success, ``error`` when the read failed with an API error,
    neither when it failed otherwise (the waits then read on their own)."""

    number: int
    taken_at: float
    listing: Listing | None = None
    error: MonitoringError | None = None


class Feed:
    """The shared read of one :class:`FeedKey` in one event loop; lives while a wait subscribes.

    One hook, on the event loop's session for the connection (one pool of kept-alive connections for
    every feed of that connection), serves the shared reads and the subscribers' own reads. A shared
    read that fails on a rate limit delays the next one by the vendor's Retry-After, for every
    subscriber at once.
    """

    def __init__(self, key: FeedKey, hook: Any, read_listing: ReadListing,
                 clock: Callable[[], float] = time.time):
        self.key = key
        self.hook = hook
        self._read_listing = read_listing
        self._clock = clock
        self._needs: dict[Hashable, int] = {}  # need -> how many subscribed waits share it
        self.subscribers = 0
        self.latest: Snapshot | None = None
        self._last_listing: Listing | None = None
        self._published = asyncio.Event()  # replaced at each publication; set to wake the waiters
        self._task: asyncio.Task | None = None
        self._entered = False
        self._ready = asyncio.Event()  # set once the hook is entered, or failed to be
        self._failure: BaseException | None = None

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def add(self, need: Hashable) -> None:
        self._needs[need] = self._needs.get(need, 0) + 1
        self.subscribers += 1
        if self._task is None:
            # A context of its own: the feed must not inherit the first wait's deadline (a contextvar).
            self._task = asyncio.get_running_loop().create_task(
                self._poll(), name=f"monitoring feed {self.key}", context=contextvars.Context())

    def remove(self, need: Hashable) -> None:
        self.subscribers -= 1
        left = self._needs.get(need, 0) - 1
        if left > 0:
            self._needs[need] = left
        else:
            self._needs.pop(need, None)

    async def next_snapshot(self, after: int, until: float) -> Snapshot | None:
        """The first snapshot numbered above ``after``, waiting for it until ``until`` (epoch
        seconds); None when none came by then or the feed stopped."""
        while True:
            if self.latest is not None and self.latest.number > after:
                return self.latest
            remaining = until - self._clock()
            if remaining <= 0 or not self.alive:
                return None
            try:
                async with asyncio.timeout(min(remaining, 3600.0)):  # no task per wait, unlike wait_for
                    await self._published.wait()
            except TimeoutError:
                pass

    def learn(self, need: Hashable, state: RunState) -> None:
        """What a wait's own read found, for the next shared read to use (e.g. where to walk to)."""
        learn = getattr(self._last_listing, "learn", None)
        if learn is not None:
            learn(need, state)

    async def entered_hook(self) -> Any:
        """The feed's hook, for a subscriber's own read; raises what stopped the feed from opening it
        (a missing connection, say), as the wait's own ``async with hook`` would have."""
        await self._ready.wait()
        if not self._entered:
            raise self._failure or RuntimeError(f"the shared {self.key.vendor} feed stopped")
        return self.hook

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # asyncio.wait, not await: a cancellation of the wait calling this must reach it, and
            # only the feed's own end (cancelled, or its failure) is none of its business.
            await asyncio.wait([self._task])
            if not self._task.cancelled():
                self._task.exception()  # retrieved: already handed to the waits as entered_hook's failure
        if self._entered:
            self._entered = False
            await self.hook.__aexit__(None, None, None)

    async def _poll(self) -> None:
        try:
            await self._enter()
            number = 0
            while True:
                number += 1
                started = self._clock()
                snapshot = await self._read(number, started)
                self._publish(snapshot)
                pause = self.key.poll_interval
                if snapshot.error is not None:
                    # A rate limit that asked for a longer pause than the interval gets it, once for all.
                    pause = max(pause, getattr(snapshot.error, "retry_after", None) or 0.0)
                # A steady cadence: the read's own time counts towards the interval.
                await asyncio.sleep(max(0.0, started + pause - self._clock()))
        finally:
            self._published.set()  # waiters see the feed stop and read on their own (or meet its failure)

    async def _enter(self) -> None:
        try:
            await self.hook.__aenter__()
            self._entered = True
        except BaseException as exc:
            self._failure = exc
            raise
        finally:
            self._ready.set()

    async def _read(self, number: int, started: float) -> Snapshot:
        try:
            needs = frozenset(self._needs)
            self._last_listing = await self._read_listing(self.hook, self.key, needs, self._last_listing)
            return Snapshot(number, started, listing=self._last_listing)
        except MonitoringError as exc:
            log.info("shared %s read for %d waits on connection %r failed: %s",
                     self.key.vendor, self.subscribers, self.key.conn_id, exc)
            if isinstance(exc, ACCOUNT_ERRORS):  # every wait would meet it: handed to all (a 429 slows the feed)
                return Snapshot(number, started, error=exc)
            return Snapshot(number, started)  # may concern this read only: each wait reads on its own
        except Exception:  # a reader's bug must not leave the waits without answers: they read on their own
            log.exception("shared %s read on connection %r failed unexpectedly; each wait reads on its own",
                          self.key.vendor, self.key.conn_id)
            return Snapshot(number, started)

    def _publish(self, snapshot: Snapshot) -> None:
        self.latest = snapshot
        published, self._published = self._published, asyncio.Event()
        published.set()


class Subscription:
    """One wait's place in a feed: its read and its pause, for ``wait_for_run``.

    :param feed: The feed of the wait's key.
    :param need: What the wait looks for in the listing (e.g. a run id).
    :param deadline: The wait's wall-clock deadline (epoch seconds; ``math.inf`` for none).
    :param read_own: The wait's own read with a hook, for when the listing does not answer.
    """

    def __init__(self, feed: Feed, need: Hashable, deadline: float, read_own: Callable[[Any], Awaitable[RunState]],
                 clock: Callable[[], float] = time.time):
        self.feed, self.need, self.deadline, self._read_own, self._clock = feed, need, deadline, read_own, clock
        self.joined_at = clock()
        # The number of the last snapshot this wait read, or passed over: those published before it
        # joined were not read for it, and may be stale for it.
        self.seen = feed.latest.number if feed.latest is not None else 0
        # What the wait's log tells at its end: how much it shared.
        self.shared_reads = self.own_reads = self.most_others = 0

    async def read(self) -> RunState:
        """The wait's state from the newest snapshot it has not read (waiting for the next one when
        there is none); its own read when the listing does not hold it, when no snapshot came by
        the deadline, or when the shared read failed for a reason that may concern it alone."""
        snapshot = self._unread() or await self.feed.next_snapshot(self.seen, until=self.deadline)
        if snapshot is not None and snapshot.taken_at < self.joined_at:
            # Begun before this wait joined (published after): not read for it, the next one is.
            self.seen = snapshot.number
            snapshot = await self.feed.next_snapshot(self.seen, until=self.deadline)
        state = None if snapshot is None else self._answer(snapshot)
        if state is not None:
            return state
        self.own_reads += 1
        state = await self._read_own(await self.feed.entered_hook())
        self.feed.learn(self.need, state)
        return state

    def summary(self) -> str:
        """How the wait read, for its log: shared reads, the most waits it shared them with, its own reads."""
        plural = lambda count, word: f"{count} {word}{'' if count == 1 else 's'}"  # noqa: E731
        return (f"{plural(self.shared_reads, 'shared read')} of connection {self.feed.key.conn_id!r} "
                f"(with up to {plural(self.most_others, 'other wait')}), {plural(self.own_reads, 'read')} of its own")

    async def pause(self, seconds: float) -> None:
        """Between reads: until the feed publishes a snapshot this wait has not read, or the
        deadline. The feed sets the pace, except when ``wait_for_run`` asks for longer than the
        interval (a Retry-After its own read was given): that is slept in full, then the newest
        snapshot is read."""
        remaining = self.deadline - self._clock()
        if not self.feed.alive or seconds > self.feed.key.poll_interval:
            await asyncio.sleep(max(0.0, min(seconds, remaining)))
            return
        await self.feed.next_snapshot(self.seen, until=self.deadline)

    def _unread(self) -> Snapshot | None:
        latest = self.feed.latest
        return latest if latest is not None and latest.number > self.seen else None

    def _answer(self, snapshot: Snapshot) -> RunState | None:
        self.seen = snapshot.number
        self.shared_reads += 1
        self.most_others = max(self.most_others, self.feed.subscribers - 1)
        if snapshot.error is not None:
            # Raised in every wait of the feed: each raise starts a fresh traceback, not a longer one.
            raise snapshot.error.with_traceback(None)
        return None if snapshot.listing is None else snapshot.listing.state_of(self.need)


# However far the open waits' runs lie, a shared walk reads no more than this many records.
MOST_SHARED_RECORDS = 5000


async def walk_until_found(walk: AsyncIterator[Any], key: str, wanted: set[str], page_size: int,
                           spare_pages: int, reaches_back: Callable[[dict], bool] | None = None) -> dict[str, dict]:
    """The records of a listing walk by their ``key``, for a shared read. The walk stops once every
    ``wanted`` id turned up; else after the pages the wanted ids fill plus ``spare_pages`` (other
    records come in between), unless ``reaches_back(record)`` says an open wait's record may lie
    further on; and never past MOST_SHARED_RECORDS. So its cost follows the open waits, not the
    account's history."""
    most = (len(wanted) // page_size + 1 + spare_pages) * page_size
    records: dict[str, dict] = {}
    missing, seen = set(wanted), 0
    async with aclosing(walk):  # stopping mid-walk closes the page generator and its pending request
        async for record in walk:
            seen += 1
            if isinstance(record, dict) and record.get(key) is not None:
                record_id = str(record[key])
                records.setdefault(record_id, record)
                missing.discard(record_id)
            if not missing or seen >= MOST_SHARED_RECORDS:
                break
            if seen >= most and not (reaches_back is not None and isinstance(record, dict) and reaches_back(record)):
                break
    return records


# How long an idle connection of a shared session is kept for the next read: longer than the
# default poll intervals (30 s triggers, 60 s sensors), so a poll does not open a new connection (and
# TLS handshake) each time; a vendor that closes idle connections sooner only costs a reconnect.
KEEPALIVE = 75.0
# At most this many requests at once on one connection's session (more wait for a free connection):
# polite to the vendor, and the connections opened once are the ones reused, never one more per burst.
CONNECTIONS_PER_SESSION = 8


class _Feeds:
    """The feeds of one event loop, by key, and the HTTP sessions they share, one per connection
    (auth travels per request, never on a session)."""

    def __init__(self) -> None:
        self.by_key: dict[FeedKey, Feed] = {}
        self._sessions: dict[str, list] = {}  # conn_id -> [session, feeds using it]

    def session_for(self, conn_id: str) -> Any:
        import aiohttp

        entry = self._sessions.get(conn_id)
        if entry is None:
            # Not trust_env: it would add ~/.netrc credentials (see AsyncClient).
            connector = aiohttp.TCPConnector(limit=CONNECTIONS_PER_SESSION, keepalive_timeout=KEEPALIVE)
            session = aiohttp.ClientSession(trust_env=False, connector=connector)
            entry = self._sessions[conn_id] = [session, 0]
        entry[1] += 1
        return entry[0]

    async def release_session(self, conn_id: str) -> None:
        entry = self._sessions.get(conn_id)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del self._sessions[conn_id]
            await entry[0].close()


_LOOPS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Feeds] = weakref.WeakKeyDictionary()


def feed_for(key: FeedKey, make_hook: Callable[[], Any], read_listing: ReadListing) -> Feed:
    """The running loop's feed of ``key``, made on first use (a hook is made only then), on the
    loop's session for the key's connection."""
    feeds = _LOOPS.setdefault(asyncio.get_running_loop(), _Feeds())
    feed = feeds.by_key.get(key)
    if feed is None or feed._task is not None and feed._task.done():
        hook = make_hook().use_session(feeds.session_for(key.conn_id))
        feed = feeds.by_key[key] = Feed(key, hook, read_listing)
    return feed


async def leave(feed: Feed, need: Hashable) -> None:
    """A wait is done with its feed; the last one out stops it, and the last feed of a connection
    closes its session."""
    feed.remove(need)
    if feed.subscribers:
        return
    feeds = _LOOPS[asyncio.get_running_loop()]
    if feeds.by_key.get(feed.key) is feed:
        del feeds.by_key[feed.key]
    try:
        await feed.stop()
    finally:
        await feeds.release_session(feed.key.conn_id)
