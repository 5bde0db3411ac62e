"""The sandbox's own API under ``/_sandbox`` (no vendor uses that prefix), and the scheduler.

Event-driven DAGs wait for things a DAG does not start: a Diligent alert, an Encrata run that ended
with changes, a Datafold run that ended in ``alert``. Offline, the sandbox makes them happen on
request (``POST /_sandbox/<vendor>/runs``) or on a schedule (``ScheduleRule``, ``--schedule``),
through the emulators' own code, so such a run is the same as one started through the vendor's API.
The control API also reads and replaces the schedule and serves the request log, so a test of a
sandbox in another process (a real Airflow's) can count what was asked. docs/sandbox.md, "Events on
request", describes every shape.

The control API takes no API key: it is the sandbox's, never a vendor's.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
from dataclasses import asdict
from typing import Any, AsyncIterator

from aiohttp import web

from airflow_provider_monitoring.sandbox.core import (
    OUTCOME_WORDS,
    ApiFailure,
    Context,
    RunChoice,
    ScheduleRule,
    VendorApp,
    json_reply,
)

log = logging.getLogger(__name__)

MAX_SECONDS = 86_400.0  # a run's duration on request: a day is long enough for any demonstration
MAX_ALERTS = 100  # alerts one Diligent run raises on request: one page of the alert listing


# ---- the body of a run request ------------------------------------------------------------------


def known_fields(body: Any, allowed: tuple[str, ...]) -> dict:
    """The body as a dict of ``allowed`` fields; anything else is a 400 naming what is allowed."""
    if not isinstance(body, dict):
        raise ApiFailure(400, "the body must be a JSON object")
    unknown = [name for name in body if name not in allowed]
    if unknown:
        raise ApiFailure(400, f"unknown field(s) {', '.join(map(repr, unknown))}; this vendor takes "
                              f"{', '.join(allowed)}")
    return body


def outcome_of(fields: dict, vendor: str) -> str | None:
    """The outcome asked for: one of the vendor's words (a typo is refused, not served as is)."""
    outcome = fields.get("outcome")
    words = OUTCOME_WORDS[vendor][0]
    if outcome is not None and outcome not in words:
        raise ApiFailure(400, f"outcome must be one of {', '.join(words)}, got {outcome!r}")
    return outcome


def number_of(fields: dict, name: str, kind: type, low: float, high: float) -> Any:
    """``fields[name]`` when it is a ``kind`` (an int counts as a float) within [low, high]; None if absent."""
    value = fields.get(name)
    if value is None:
        return None
    kinds = (int, float) if kind is float else (int,)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        noun = "a number" if kind is float else "an integer"
        raise ApiFailure(400, f"{name} must be {noun} from {low:g} to {high:g}, got {value!r}")
    return value


def run_choice(fields: dict, vendor: str) -> RunChoice:
    """What a run request fixes about its run; ``alerts`` implies the ``alert`` outcome."""
    outcome = outcome_of(fields, vendor)
    alerts = number_of(fields, "alerts", int, 1, MAX_ALERTS)
    if alerts is not None and outcome not in (None, "alert"):
        raise ApiFailure(400, f"alerts come from a run ending in alert, not {outcome!r}")
    changes = fields.get("changes")
    if changes is not None and not isinstance(changes, bool):
        raise ApiFailure(400, f"changes must be true (every target changes) or false (none), got {changes!r}")
    return RunChoice(outcome="alert" if alerts is not None else outcome,
                     seconds=number_of(fields, "seconds", float, 0, MAX_SECONDS), alerts=alerts, changes=changes)


def message(detail: Any) -> str:
    """A failure's detail as one line: a vendor's list of validation entries joined."""
    if not isinstance(detail, list):
        return str(detail)
    parts = []
    for entry in detail:
        where = ".".join(str(part) for part in entry.get("path") or entry.get("loc") or [])
        text = entry.get("message") or entry.get("msg")
        parts.append(f"{where}: {text}" if where else str(text))
    return "; ".join(parts)


# ---- the control API ----------------------------------------------------------------------------


class ControlApp:
    """The routes under ``/_sandbox``: runs on request, the schedule, the request log.

    ``context``: the sandbox's (config, state, request log). ``apps``: the vendor apps by vendor
    name, whose own code starts the runs. ``scheduler``: told when the schedule changes. Errors answer ``{"error": "..."}`` with 400 (bad input),
    404 (no such monitor, vendor or path), 405 or 409 (a monitoring that runs no more).
    """

    def __init__(self, context: Context, apps: dict[str, VendorApp], scheduler: Scheduler):
        self.context = context
        self.apps = apps
        self.scheduler = scheduler

    def create_app(self) -> web.Application:
        app = web.Application(middlewares=[self.errors])
        app.router.add_post("/{vendor}/runs", self.start_run)
        app.router.add_get("/schedules", self.get_schedules)
        app.router.add_put("/schedules", self.put_schedules)
        app.router.add_get("/requests", self.list_requests)
        return app

    @web.middleware
    async def errors(self, request: web.Request, handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiFailure as failure:
            return json_reply({"error": message(failure.detail)}, failure.status)
        except web.HTTPException as exc:  # aiohttp's unknown path (404) or wrong method (405)
            if exc.status < 400:
                raise
            return json_reply({"error": f"{exc.reason.lower()}: {request.method} {request.path}"}, exc.status)

    @staticmethod
    async def json_body(request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise ApiFailure(400, "the body must be JSON") from None

    async def start_run(self, request: web.Request) -> web.Response:
        vendor = request.match_info["vendor"]
        app = self.apps.get(vendor)
        if app is None:
            raise ApiFailure(404, f"no vendor {vendor!r}; the sandbox has {', '.join(self.apps)}")
        fields = known_fields(await self.json_body(request), app.control_fields)
        choice = run_choice(fields, vendor)  # checked before a Diligent website may create a monitoring
        monitor = app.control_monitor(fields)
        run = app.start_run(monitor, choice)
        self.context.saved()
        return json_reply(app.run_answer(monitor, run), 201)

    def schedules_answer(self) -> web.Response:
        return json_reply({"schedules": [asdict(rule) for rule in self.context.config.schedules]})

    async def get_schedules(self, request: web.Request) -> web.Response:
        return self.schedules_answer()

    async def put_schedules(self, request: web.Request) -> web.Response:
        body = known_fields(await self.json_body(request), ("schedules",))
        items = body.get("schedules")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ApiFailure(400, 'schedules must be a list of {"vendor", "match", "every"} objects')
        try:
            rules = [ScheduleRule(**item) for item in items]
        except (TypeError, ValueError) as error:
            raise ApiFailure(400, f"bad schedule rule: {error}") from None
        # In place: ``Sandbox.config.schedules`` is this list.
        self.context.config.schedules[:] = rules
        self.scheduler.wake()
        return self.schedules_answer()

    async def list_requests(self, request: web.Request) -> web.Response:
        method, glob = request.query.get("method"), request.query.get("path", "*")
        try:
            since = float(request.query.get("since", "0"))
        except ValueError:
            raise ApiFailure(400, "since must be a time in epoch seconds") from None
        chosen = [entry._asdict() for entry in self.context.requests
                  if (method is None or entry.method == method.upper()) and entry.at >= since
                  and fnmatch.fnmatchcase(entry.path, glob)]
        return json_reply({"requests": chosen})


# ---- the schedule -------------------------------------------------------------------------------

IDLE = 1.0  # seconds between looks when no run is due sooner: new monitors and rules are seen within it


class Scheduler:
    """Starts the runs ``config.schedules`` asks for, on the sandbox's event loop.

    ``context``: the sandbox's. ``apps``: the vendor apps, whose ``start_run`` makes a scheduled run
    the same as one started through the vendor's API. A monitor's first run comes one period after
    the scheduler first sees it, then one a period, whether or not the previous run has ended; a
    stall of more than a period does not make up the missed runs in a burst.
    """

    def __init__(self, context: Context, apps: list[VendorApp]):
        self.context = context
        self.apps = apps
        self.last: dict[tuple[str, str], float] = {}  # (vendor, monitor id): its last run, or when first seen
        self.woken = asyncio.Event()

    def wake(self) -> None:
        """Look now: a schedule set through the control API takes effect at once, not after IDLE."""
        self.woken.set()

    async def run_forever(self) -> None:
        while True:
            try:
                wait = self.tick(self.context.now())
            except Exception:  # a bug here must not stop the schedule, nor the sandbox serving
                log.exception("the sandbox scheduler failed a tick")
                wait = IDLE
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.woken.wait(), wait)
            self.woken.clear()

    def tick(self, now: float) -> float:
        """Start every run that is due at ``now``; the seconds until the next one is due (at most IDLE)."""
        rules = list(self.context.config.schedules)
        last, next_due, started = {}, now + IDLE, 0
        for app in self.apps if rules else ():  # no rules: nothing to look at (the cheap common case)
            for monitor in list(app.monitors.values()):
                rule = self.rule_for(app, monitor, rules)
                if rule is None:
                    continue
                key = (app.vendor, str(monitor["id"]))
                previous = self.last.get(key, now)
                if previous + rule.every <= now:
                    started += self.started(app, monitor)
                    # The cadence is kept; after a stall of more than a period it starts afresh
                    # rather than make up the missed runs in a burst.
                    previous = previous + rule.every if now - previous < 2 * rule.every else now
                last[key] = previous
                next_due = min(next_due, previous + rule.every)
        self.last = last  # monitors gone, or no longer scheduled, are forgotten
        if started:
            self.context.saved()
        return max(0.0, next_due - now)

    @staticmethod
    def rule_for(app: VendorApp, monitor: dict, rules: list[ScheduleRule]) -> ScheduleRule | None:
        """The first rule that schedules ``monitor``, when the vendor would run it by itself."""
        if not app.schedulable(monitor):
            return None
        keys = app.monitor_keys(monitor)
        return next((rule for rule in rules if rule.applies(app.vendor, keys)), None)

    @staticmethod
    def started(app: VendorApp, monitor: dict) -> bool:
        """Whether the vendor started the run (Encrata refuses one the credits do not cover)."""
        try:
            app.start_run(monitor)
        except ApiFailure as refusal:
            log.warning("scheduled %s run of %s refused: %s", app.vendor, monitor["id"], message(refusal.detail))
            return False
        return True

    async def lifetime(self, app: web.Application) -> AsyncIterator[None]:
        """An aiohttp cleanup context: scheduling starts with the server and stops with it."""
        task = asyncio.create_task(self.run_forever())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
