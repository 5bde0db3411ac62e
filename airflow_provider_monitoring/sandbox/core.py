"""What the three vendor emulators share: configuration, outcome and schedule rules (and the
default outcome rules), faults, time, ids, state, the request log, and ``VendorApp``, the frame each
vendor's API is built on, which also serves the read-only monitor pages the operators' links open
(docs/sandbox.md, "Monitor pages") and starts the runs the control API and the schedule ask for
(docs/sandbox.md, "Events on request").

The sandbox serves all three vendors on one port, each under its own path prefix
(``/encrata``, ``/diligent``, ``/datafold``), so one process backs the three connections.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hmac
import html
import json
import os
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Awaitable, Callable, NamedTuple

from aiohttp import web

from airflow_provider_monitoring._http.errors import ConfigurationError
from airflow_provider_monitoring._http.values import parse_time

VENDORS = ("encrata", "diligent", "datafold")
DEFAULT_API_KEY = "sandbox-api-key"
# The sandbox's own paths (the control API): no vendor uses this prefix, so nothing there can be
# mistaken for a vendor's answer; faults and the request log leave it out.
CONTROL_PREFIX = "/_sandbox"


class Selector:
    """What outcome and schedule rules share: ``vendor`` (one of VENDORS or "*") and ``match``, a
    glob tried against an object's keys (``VendorApp.monitor_keys``)."""

    vendor: str
    match: str

    def applies(self, vendor: str, keys: Any) -> bool:
        if self.vendor not in ("*", vendor):
            return False
        return any(fnmatch.fnmatchcase(str(key), self.match) for key in keys if key is not None)


@dataclass
class OutcomeRule(Selector):
    """How runs of matching objects end (docs/sandbox.md, "Outcome rules").

    ``vendor``: one of VENDORS or "*". ``match``: a glob tried against the object's keys (id, name,
    website, external id, targets, tags). ``outcome``: the end state in the vendor's own words
    (``OUTCOME_WORDS``); None keeps the vendor's default. ``seconds``: how long a run takes; None
    uses ``SandboxConfig.run_seconds``.
    """

    vendor: str = "*"
    match: str = "*"
    outcome: str | None = None  # None: the vendor's default outcome (a rule may set only seconds)
    seconds: float | None = None

    def flag(self) -> str:
        """The rule as the command line writes it: ``VENDOR:GLOB=OUTCOME[@SECONDS]``."""
        seconds = "" if self.seconds is None else f"@{self.seconds:g}"
        return f"{self.vendor}:{self.match}={self.outcome or ''}{seconds}"


MIN_EVERY = 0.1  # seconds: a shorter period would keep the scheduler busy for nothing a person can see


@dataclass
class ScheduleRule(Selector):
    """Matching monitors run every ``every`` seconds (docs/sandbox.md, "On a schedule").

    ``vendor``: one of VENDORS or "*". ``match``: a glob tried against the object's keys, as in an
    ``OutcomeRule``. ``every``: the period in seconds (at least ``MIN_EVERY``). Only monitors the
    vendor would run by itself are scheduled: active Encrata monitors, active and unexpired Diligent
    monitorings, enabled Datafold monitors. The first rule that applies to a monitor decides its period.
    """

    vendor: str
    match: str
    every: float

    def __post_init__(self) -> None:
        # Checked here so the config file, the command line and the control API refuse alike.
        if self.vendor not in ("*", *VENDORS):
            raise ValueError(f"vendor must be one of *, {', '.join(VENDORS)}, got {self.vendor!r}")
        if not isinstance(self.match, str) or not self.match:
            raise ValueError("match must be a non-empty glob")
        if isinstance(self.every, bool) or not isinstance(self.every, (int, float)) or not self.every >= MIN_EVERY:
            raise ValueError(f"every must be a number of seconds of at least {MIN_EVERY:g}, got {self.every!r}")

    def flag(self) -> str:
        """The rule as the command line writes it: ``VENDOR:GLOB=SECONDS``."""
        return f"{self.vendor}:{self.match}={self.every:g}"


def split_flag(text: str) -> tuple[str, str, str]:
    """``VENDOR:GLOB=REST``, as rules are written on the command line, in its three parts."""
    target, rest = text.split("=", 1)
    vendor, match = target.split(":", 1)
    return vendor, match, rest


@dataclass
class RunChoice:
    """What a control request fixes about the run it starts; what it leaves None the outcome rules
    decide, as for a run started through the vendor's API.

    ``outcome``: the end state in the vendor's words. ``seconds``: how long the run takes.
    ``alerts``: how many alerts a Diligent run ending in ``alert`` raises (a run the vendor's API
    starts raises one). ``changes``: whether every target of an Encrata run changes (True) or none
    (False); None keeps each target's own behaviour (about a third change).
    """

    outcome: str | None = None
    seconds: float | None = None
    alerts: int | None = None
    changes: bool | None = None


@dataclass
class FaultRule:
    """A fault answered instead of the real reply to matching requests.

    ``kind``: "status" (reply ``status`` with an error body), "retry_after" (429 with Retry-After
    ``retry_after``), "slow" (delay ``delay`` seconds, then answer normally), "malformed" (a 200
    HTML page), "malformed_json" (a 200 labelled JSON whose body is broken JSON), "drop" (close the
    connection without an answer), "lost" (the emulator acts on the request, then ``status`` with an
    error body replaces its answer: a write whose answer was lost). ``method``/``path``: globs
    on the method and the full request path (``/encrata/api/monitors*``). ``times``: how many
    requests to hit (None = all). ``after``: how many matching requests to let through first (so
    ``after=4, times=1`` hits only the fifth).
    """

    kind: str
    method: str = "*"
    path: str = "*"
    status: int = 500
    retry_after: float = 1.0
    delay: float = 1.0
    times: int | None = None
    after: int = 0

    def applies(self, request: web.Request) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return fnmatch.fnmatchcase(request.method, self.method) and fnmatch.fnmatchcase(request.path, self.path)

    def let_through(self) -> bool:
        """Whether this matching request is one of the first ``after``, which pass untouched."""
        if self.after > 0:
            self.after -= 1
            return True
        return False


# Each vendor's outcome words, its default first, and what the emulator makes of any other word.
OUTCOME_WORDS = {
    "encrata": (("success", "completed", "failed"), "reported as is"),
    "diligent": (("ok", "alert", "failed", "error"), "read as ok"),
    "datafold": (("ok", "alert", "error", "cancelled", "learning", "skipped"), "served as is"),
}
DEFAULT_OUTCOMES = {vendor: words[0] for vendor, (words, _) in OUTCOME_WORDS.items()}

# The rules every sandbox applies after its own (the example DAGs are written against them): names
# containing "alert demo" end in alert, "fail demo" in the vendor's failure word; Diligent websites,
# which hold no space, say "alert-demo" and "fail-demo".
DEFAULT_RULES = (
    OutcomeRule("*", "*alert demo*", "alert"),
    OutcomeRule("diligent", "*alert-demo*", "alert"),
    OutcomeRule("encrata", "*fail demo*", "failed"),
    OutcomeRule("diligent", "*fail demo*", "failed"),
    OutcomeRule("diligent", "*fail-demo*", "failed"),
    OutcomeRule("datafold", "*fail demo*", "error"),
)


def default_rules() -> list[OutcomeRule]:
    return [replace(rule) for rule in DEFAULT_RULES]  # copies: a config may change its own


@dataclass
class SandboxConfig:
    api_key: str = DEFAULT_API_KEY
    run_seconds: float = 2.0  # how long a run stays in progress unless a rule says otherwise
    rules: list[OutcomeRule] = field(default_factory=list)  # yours: tried first
    faults: list[FaultRule] = field(default_factory=list)
    state_file: str | None = None
    default_rules: list[OutcomeRule] = field(default_factory=default_rules)  # tried after ``rules``; [] for none
    schedules: list[ScheduleRule] = field(default_factory=list)  # read at every tick of the scheduler

    def outcome(self, vendor: str, *keys: Any) -> tuple[str, float]:
        """The first matching rule's (outcome, seconds), ``rules`` before ``default_rules``, else
        the vendor default."""
        names = [str(k) for k in keys if k is not None]
        for rule in [*self.rules, *self.default_rules]:
            if rule.applies(vendor, names):
                outcome = rule.outcome or DEFAULT_OUTCOMES[vendor]
                return outcome, self.run_seconds if rule.seconds is None else rule.seconds
        return DEFAULT_OUTCOMES[vendor], self.run_seconds


class LoggedRequest(NamedTuple):
    """One request served to a vendor: ``path`` without its query, ``query`` the raw query string,
    ``at`` when it arrived (epoch seconds)."""

    method: str
    path: str
    query: str
    at: float


class Context:
    """Handed to every vendor app: config, the vendors' state, the clock, ids, saving, the request log."""

    def __init__(self, config: SandboxConfig, state: dict[str, dict[str, Any]], save: Callable[[], None]):
        self.config = config
        self.state = state
        self._save = save
        # What was asked, oldest first (bounded): tests check what went over the wire.
        self.requests: deque[LoggedRequest] = deque(maxlen=10_000)

    @staticmethod
    def now() -> float:
        return time.time()

    @staticmethod
    def uuid() -> str:
        return str(uuid.uuid4())

    def next_int(self, vendor: str, kind: str) -> int:
        """Increasing integer ids per vendor and kind (Datafold ids are integers)."""
        counters = self.state[vendor].setdefault("_counters", {})
        counters[kind] = counters.get(kind, 0) + 1
        return counters[kind]

    def saved(self) -> None:
        self._save()


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


def esc(value: Any) -> str:
    """Text for HTML: every value on a page is escaped (names come from users); None reads "-"."""
    return "-" if value is None else html.escape(str(value))


PAGE_STYLE = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
              "th,td{text-align:left;padding:.2em .8em;border-bottom:1px solid #ddd}")


def html_reply(title: str, body: str, status: int = 200) -> web.Response:
    page = (f"<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>{esc(title)}</title>\n"
            f"<style>{PAGE_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")
    # Nothing on the page runs or loads: the policy makes sure, whatever a name holds.
    headers = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'", "Cache-Control": "no-store"}
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8", headers=headers)


def error_body(path: str, status: int, message: str) -> dict[str, Any]:
    """An error in the shape the vendor behind ``path`` documents, so an injected fault reads
    like the real thing: Encrata agent paths ``{"c", "m"}``, Datafold ``{"detail"}``, the rest
    ``{"error"}``."""
    if path.startswith("/encrata/api/agent/"):
        return {"c": status, "m": message}
    if path.startswith("/datafold/"):
        return {"detail": message}
    return {"error": message}


def is_control(request: web.Request) -> bool:
    return request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/")


def request_log_middleware(context: Context):
    @web.middleware
    async def record(request: web.Request, handler):
        if not is_control(request):  # the log is what went to the vendors, not how it was read
            context.requests.append(LoggedRequest(request.method, request.path, request.query_string, context.now()))
        return await handler(request)

    return record


def fault_middleware(config: SandboxConfig):
    @web.middleware
    async def apply_faults(request: web.Request, handler):
        # The control API is never faulted: a fault meant for the vendors must not stop the sandbox
        # from being driven.
        for rule in () if is_control(request) else config.faults:
            if not rule.applies(request):
                continue
            if rule.let_through():
                break
            if rule.times is not None:
                rule.times -= 1
            if rule.kind == "lost":
                await handler(request)  # the write happens; its answer never arrives
                return json_reply(error_body(request.path, rule.status, f"sandbox fault {rule.status}"), rule.status)
            if rule.kind == "slow":
                await asyncio.sleep(rule.delay)
                break
            if rule.kind == "retry_after":
                body = error_body(request.path, 429, "rate limit exceeded")
                return json_reply(body, 429, {"Retry-After": f"{rule.retry_after:g}"})
            if rule.kind == "status":
                return json_reply(error_body(request.path, rule.status, f"sandbox fault {rule.status}"), rule.status)
            if rule.kind == "malformed":
                return web.Response(text="<html>sandbox: not json</html>", content_type="text/html")
            if rule.kind == "malformed_json":
                return web.Response(text='{"items": [', content_type="application/json")
            if rule.kind == "drop":
                transport = request.transport
                if transport is not None:
                    transport.close()
                raise asyncio.CancelledError
        return await handler(request)

    return apply_faults


def load_state(path: str | None) -> dict[str, dict[str, Any]]:
    state: dict[str, dict[str, Any]] = {vendor: {} for vendor in VENDORS}
    if path:
        try:
            with open(path) as handle:
                state.update(json.load(handle))
        except FileNotFoundError:
            pass
    return state


_save_lock = threading.Lock()


def saver(path: str | None, state: dict[str, Any]) -> Callable[[], None]:
    def save() -> None:
        if not path:
            return
        with _save_lock:
            tmp = f"{path}.tmp"
            with open(tmp, "w") as handle:
                json.dump(state, handle, default=str)
            os.replace(tmp, path)

    return save


# ---- the frame of a vendor emulator -------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = tuple[str, str, Handler]  # method, path under the vendor's prefix, handler


class ApiFailure(Exception):
    """An error answer, raised from anywhere in a handler; the vendor app gives it the vendor's shape.

    ``detail``: the message, or a vendor's list of validation entries. ``headers`` go with the
    answer; ``extra`` are more top-level fields of the body (Diligent's ``duplicates``)."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(status, detail)
        self.status, self.detail, self.headers, self.extra = status, detail, headers, extra


@dataclass
class MonitorPage:
    """What a vendor shows on a monitor's HTML page: its ``name``, ``facts`` (label, value) such as
    its type, and ``runs`` newest first, each (run id, state, triggered, started, finished) as the
    vendor's API writes them (None: not yet)."""

    name: str
    facts: list[tuple[str, Any]]
    runs: list[tuple[Any, ...]]


MONITOR_PAGE = "monitor_page"  # the route name of the page, which the key check lets through
RUN_COLUMNS = ("run", "state", "triggered", "started", "finished")


class VendorApp:
    """One vendor's emulated API, served under ``/<vendor>``; a vendor module subclasses it.

    The base does what every vendor does alike: checks the API key, answers every failure (an
    ``ApiFailure``, aiohttp's unknown route or wrong method) in the vendor's error shape, reads
    JSON bodies, tells time by the sandbox clock, places a run in its phases from its timestamps
    and registers the routes. The subclass gives ``routes`` and, in the vendor's own words,
    ``sent_key``, ``refusal``, ``error_body`` and ``body_failure``; a vendor whose operators link to
    ``<base url>/monitors/<id>`` gives ``monitor_page`` and the base serves that page (GET, no key).
    """

    vendor: str
    key_header = "Authorization"  # the request header that carries the API key
    monitor_table = "monitors"  # the table of ``store`` that holds the objects runs are started for
    control_fields: tuple[str, ...] = ("monitor_id", "outcome", "seconds")  # what a control request may give
    tables: tuple[str, ...] = ()  # the dicts of the vendor's state its handlers expect
    # A run's phases in order, each with the share of the run's duration at which it ends (the
    # last at 1.0); once the whole duration has passed the run is "done".
    phases: tuple[tuple[str, float], ...] = ()
    head_on_get = True  # aiohttp's default: a GET route answers HEAD too
    monitor_pages = False  # whether ``monitor_page`` is given (the operators' monitor link)

    def __init__(self, context: Context):
        self.context = context

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def create_app(self) -> web.Application:
        _ = self.store  # create the vendor's tables now: Sandbox.call may seed them before any request
        app = web.Application(middlewares=[self.guard])
        for method, path, handler in self.routes():
            if method == "GET":
                app.router.add_get(path, handler, allow_head=self.head_on_get)
            else:
                app.router.add_route(method, path, handler)
        if self.monitor_pages:  # GET only (a browser's request); HEAD and the rest get the API's answers
            app.router.add_get("/monitors/{monitor_id}", self.show_monitor_page, allow_head=False, name=MONITOR_PAGE)
        return app

    @property
    def store(self) -> dict[str, Any]:
        """The vendor's part of the sandbox state, with its tables (a state file may seed a few)."""
        store = self.context.state.setdefault(self.vendor, {})
        for table in self.tables:
            store.setdefault(table, {})
        return store

    @property
    def monitors(self) -> dict[str, dict]:
        """The objects runs are started for, keyed by their id as a string."""
        return self.store[self.monitor_table]

    def outcome(self, monitor: dict, choice: RunChoice | None = None) -> tuple[str, float]:
        """How a run of ``monitor`` ends, and when: what ``choice`` fixes, the outcome rules the rest."""
        outcome, seconds = self.context.config.outcome(self.vendor, *self.monitor_keys(monitor))
        choice = choice or RunChoice()
        return choice.outcome or outcome, seconds if choice.seconds is None else choice.seconds

    @staticmethod
    def found(record: dict | None, missing: str) -> dict:
        """``record``, or a 404 saying ``missing`` when there is none."""
        if record is None:
            raise ApiFailure(404, missing)
        return record

    # ---- runs the sandbox starts itself: the control API and the schedule

    def monitor_keys(self, monitor: dict) -> tuple:
        """What outcome and schedule rules match against (docs/sandbox.md, "Outcome rules")."""
        raise NotImplementedError

    def schedulable(self, monitor: dict) -> bool:
        """Whether the vendor would run ``monitor`` on its own schedule now (active, enabled)."""
        raise NotImplementedError

    def start_run(self, monitor: dict, choice: RunChoice | None = None) -> dict:
        """Start and store a run of ``monitor`` exactly as the vendor's API does (the caller saves)."""
        raise NotImplementedError

    def run_answer(self, monitor: dict, run: dict) -> dict:
        """The control API's answer about a run it started (``control_answer``, plus the vendor's own facts)."""
        raise NotImplementedError

    def control_answer(self, monitor_id: Any, run_id: Any, outcome: str, start: float, seconds: float,
                       **facts: Any) -> dict:
        """What every vendor's control answer holds: which run of which monitor, how it will end, when."""
        return {"vendor": self.vendor, "monitor_id": monitor_id, "run_id": run_id, "outcome": outcome,
                "seconds": seconds, "ends_at": iso_of_ms(round((start + seconds) * 1000), millis=True), **facts}

    def control_monitor(self, fields: dict) -> dict:
        """The monitor a control request names by ``monitor_id``: a 400 without one, a 404 for none."""
        monitor_id = fields.get("monitor_id")
        if monitor_id is None:
            raise ApiFailure(400, "monitor_id is required")
        if isinstance(monitor_id, bool) or not isinstance(monitor_id, (str, int)):
            raise ApiFailure(400, f"monitor_id must be a string or an integer, got {monitor_id!r}")
        return self.found(self.monitors.get(str(monitor_id)), f"the sandbox has no {self.vendor} monitor {monitor_id!r}")

    # ---- auth and errors

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        page = request.method == "GET" and request.match_info.route.name == MONITOR_PAGE
        check = None if page else partial(self.check_key, request)  # a browser following a monitor link sends no key
        return await answered(request, handler, self.failure_reply, self.route_error, check)

    def check_key(self, request: web.Request) -> None:
        header = request.headers.get(self.key_header)
        sent = self.sent_key(header)
        if sent is None or not same_key(sent, self.context.config.api_key):
            raise self.refusal(request, header)

    def sent_key(self, header: str | None) -> str | None:
        """The API key in the vendor's auth header; None when the header carries none."""
        return header

    def refusal(self, request: web.Request, header: str | None) -> ApiFailure:
        """The vendor's answer to a missing or wrong key."""
        raise NotImplementedError

    def route_error(self, exc: web.HTTPException) -> str:
        """The message for aiohttp's unknown route or wrong method, in the vendor's words."""
        return exc.reason

    def failure_reply(self, request: web.Request, failure: ApiFailure) -> web.Response:
        return json_reply(self.error_body(request, failure), failure.status, failure.headers)

    def error_body(self, request: web.Request, failure: ApiFailure) -> Any:
        raise NotImplementedError

    # ---- request bodies

    async def json_body(self, request: web.Request, required: bool = True) -> Any:
        """The parsed JSON body (``{}`` for an absent optional one); a missing or broken body gets
        the vendor's answer."""
        try:
            text = await request.text()  # bytes that are not text in their charset: a ValueError too
            if text:
                return json.loads(text)
        except ValueError as error:
            raise self.body_failure(error) from None
        if required:
            raise self.body_failure(None)
        return {}

    def body_failure(self, error: ValueError | None) -> ApiFailure:
        """The vendor's answer to a body that is missing (``error`` None) or not JSON."""
        raise NotImplementedError

    # ---- the monitor page (read-only HTML, for the operators' monitor link)

    def monitor_page(self, monitor_id: str) -> MonitorPage | None:
        """The page of the monitor ``monitor_id`` (as the URL gives it), or None when there is none."""
        raise NotImplementedError

    async def show_monitor_page(self, request: web.Request) -> web.Response:
        monitor_id = request.match_info["monitor_id"]
        page = self.monitor_page(monitor_id)
        what = f"{self.vendor.capitalize()} monitor {monitor_id}"
        if page is None:
            body = f"<h1>Not found</h1>\n<p>The sandbox has no {esc(what)}.</p>"
            return html_reply(f"{what}: not found", body, 404)
        facts = "".join(f"<tr><th>{esc(label)}</th><td>{esc(value)}</td></tr>" for label, value in page.facts)
        if page.runs:
            head = "".join(f"<th>{name}</th>" for name in RUN_COLUMNS)
            rows = "".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in run) + "</tr>\n" for run in page.runs)
            runs = f"<table class=runs>\n<tr>{head}</tr>\n{rows}</table>"
        else:
            runs = "<p>No runs yet.</p>"
        body = (f"<h1>{esc(page.name)}</h1>\n<p>{esc(what)} in the offline sandbox (read-only).</p>\n"
                f"<table>{facts}</table>\n<h2>Runs, newest first</h2>\n{runs}")
        return html_reply(f"{what}: {page.name}", body)

    # ---- time

    def now(self) -> float:
        """The sandbox clock, in epoch seconds: every vendor tells time by it."""
        return self.context.now()

    def iso(self, moment: float | None, millis: bool = False) -> str | None:
        return None if moment is None else iso_of_ms(int(moment * 1000), millis)

    def phase(self, run: dict, now: float) -> str:
        """Where a run stands at ``now``, from its ``created_ts`` and ``seconds`` alone (no
        background task moves runs): the first phase whose share has not passed, else "done"."""
        elapsed, seconds = now - run["created_ts"], max(0.0, float(run["seconds"]))
        if elapsed >= seconds:
            return "done"
        return next(name for name, until in self.phases if elapsed < seconds * until)

    def phase_start(self, run: dict, phase: str) -> float:
        """When a run enters ``phase``: where the phase before it ends."""
        starts = [0.0] + [until for _, until in self.phases]
        index = [name for name, _ in self.phases].index(phase)
        return run["created_ts"] + max(0.0, float(run["seconds"])) * starts[index]


async def answered(request: web.Request, handler: Handler, reply: Callable[[web.Request, ApiFailure], web.Response],
                   route_error: Callable[[web.HTTPException], str], check: Callable[[], None] | None = None,
                   ) -> web.StreamResponse:
    """``handler``'s answer after ``check``; an ``ApiFailure`` raised by either, or aiohttp's unknown
    route (404) or wrong method (405), answered by ``reply`` in the caller's error shape."""
    try:
        if check is not None:
            check()
        return await handler(request)
    except ApiFailure as failure:
        return reply(request, failure)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return reply(request, ApiFailure(exc.status, route_error(exc)))


def same_key(sent: str, expected: str) -> bool:
    # Constant time, on bytes: surrogateescape keeps a header that is not UTF-8 a wrong key, not a crash.
    return hmac.compare_digest(sent.encode(errors="surrogateescape"), expected.encode(errors="surrogateescape"))


def iso_of_ms(ms: int | None, millis: bool = False) -> str | None:
    """An epoch-ms moment as the vendors write it: UTC, ``Z``, with or without milliseconds."""
    if ms is None:
        return None
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000))
    return text + (f".{ms % 1000:03d}Z" if millis else "Z")


def one_of(value: Any, allowed: tuple[str, ...], name: str, default: str | None = None) -> str:
    """``value`` (``default`` when it is None) when allowed, else a 400 naming the choices."""
    value = default if value is None else value
    if value not in allowed:
        raise ApiFailure(400, f"{name} must be one of {', '.join(allowed)}")
    return value


def epoch_seconds(text: Any) -> float | None:
    """An ISO 8601 date-time (``Z``, an offset, or naive UTC) in epoch seconds; None if unusable."""
    try:
        return parse_time(text).timestamp()
    except ConfigurationError:
        return None
