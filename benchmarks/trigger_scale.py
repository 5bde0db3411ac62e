"""Many deferred waits in one event loop: what they cost the vendors, the triggerer and its loop
(a figure, not a test; issue 13, part 4).

N waits (``--waits``, default 1,000) split evenly over the vendors: Encrata runs (one run per
monitor), Diligent executions (the next execution of a monitoring after a reference time) and
Datafold monitor runs (``--datafold-runs-per-monitor`` runs of each monitor, default 3). They wait
against the offline sandbox, started with its command-line flags in a process of its own (one per
mode, so each mode meets the same fresh state), while every wait runs in ONE asyncio event loop,
as in one triggerer. Each mode runs in a fresh interpreter of its own (a spawned child), so its
CPU time, peak RSS and module state are its own whichever mode ran first.

Set-up, per mode: monitors and monitorings are created through the sync hooks, then the runs are
started together (Encrata ``trigger_run``, Datafold ``run_monitor``, Diligent monitorings created
with ``run_now``, which queues their first execution at once). Each object's name ends in a tag
such as ``~23.4s``, and one ``--outcome '*:*~23.4s=@23.4'`` rule per tag makes its run last that
long: the durations are spread uniformly over ``--run-seconds`` (same seed in every mode), so runs
end at scattered instants. When a run ended: Diligent's create answer gives the sandbox's own
record, to the millisecond (``next_run_at`` of a monitoring whose run is in progress is that
run's ``execution_time``); Encrata and Datafold show their runs' times to the second only, so
there it is the run's start plus its rule's duration, the start being the middle of the request
that started it (the report gives the widest half-width; a few milliseconds). The sandbox's
``--state-file`` holds every record exactly, but it rewrites the whole file after every change,
which made starting 1,000 runs take 12 s instead of 1.

Each wait is the trigger a deferred sensor hands to Airflow: the public sensor
(``EncrataRunSensor``, ``DiligentExecutionSensor``, ``DatafoldMonitorRunSensor``) is executed
with ``deferrable=True`` and its ``TaskDeferred`` caught; the trigger is then rebuilt from
``serialize()`` the way the triggerer does (kwargs through Airflow's serde and back, the classpath
imported, ``cls(**kwargs)``). Every rebuilt trigger's ``run()`` is driven concurrently until its
first event; the waits start spread over the first poll interval, as tasks defer at different
moments.

Two modes, in the same run and on the same machine (``--mode both``), because the machine is
shared and noisy and only a ratio to a baseline measured alongside means anything:

- ``ours``: the provider's triggers, whatever the code is when this runs.
- ``baseline``: a minimal trigger written here which, like the dbt Cloud provider's, opens a new
  aiohttp session (a new TCP connection) at every poll and reads its one run's state every P
  seconds: Encrata the monitor's run listing, Diligent the executions listed from the reference
  time (then the monitorings, for its ``running_state``), Datafold ``GET`` the run.

Figures, per mode (a "poll" is one poll interval P, ``--poll-interval``):

- requests per poll per wait, in total and per vendor: requests / (sum over waits of the time
  each was open / P). Counted in this process: every aiohttp ``ClientSession`` gets a
  ``TraceConfig`` (``ClientSession.__init__`` is patched), since the sandbox's request log is not
  reachable over HTTP.
- CPU per poll: the mode's process's CPU time while the waits run / (elapsed / P); also per
  wait-poll.
- new TCP connections per poll after warm-up: the TraceConfig's ``on_connection_create_end``
  after the first 2 polls, / the polls after them.
- detection latency p50/p99: when the trigger's event arrived minus when the run ended in the
  sandbox's record.
- event-loop lag p99: how late a 50 ms repeating timer in the same loop fires.
- peak RSS of this process while the waits run (``ru_maxrss``, reset first where Linux allows).
- whether the sandbox kept up: its CPU share of one core (it serves from one thread) and the
  request latency seen here; a saturated sandbox makes every figure above the sandbox's, and the
  report says so.

Each figure is printed next to the target issue 13 sets (requests per poll per wait <= 0.1 for
Encrata and Diligent, <= 1.0 for Datafold; 0 new connections per poll after warm-up; detection
p99 <= P + 0.5 s; loop lag p99 <= 50 ms; CPU per poll <= 1/3 of the baseline's), with the ratio
ours / baseline.

    python benchmarks/trigger_scale.py                      # 1,000 waits, both modes, a few minutes
    python benchmarks/trigger_scale.py --waits 60           # quick: under a minute
    python benchmarks/trigger_scale.py --mode ours --vendors encrata,datafold --poll-interval 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import math
import multiprocessing
import os
import random
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

# Airflow reads AIRFLOW_HOME on import: keep the benchmark out of the user's ~/airflow. (The
# children that run the modes inherit the parent's.)
if "AIRFLOW_HOME" not in os.environ:
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="apm-bench-airflow-home-")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import aiohttp  # noqa: E402
from airflow.triggers.base import BaseTrigger, TriggerEvent  # noqa: E402
from _memory import peak_rss, reset_peak_rss  # noqa: E402 (benchmarks/_memory.py, beside this script)

KEY = "bench-trigger-scale-key"
VENDORS = ("encrata", "diligent", "datafold")
MB = 1024 * 1024

# The targets of issue 13.
MAX_REQUESTS_PER_POLL_PER_WAIT = {"encrata": 0.1, "diligent": 0.1, "datafold": 1.0}
MAX_NEW_CONNECTIONS_PER_POLL = 0.0
DETECTION_SLACK = 0.5  # detection p99 <= P + this
MAX_LOOP_LAG = 0.050
MAX_CPU_RATIO = 1 / 3

LAG_PERIOD = 0.050
WARM_UP_POLLS = 2
# The sandbox serves from one thread: past this share of a core, requests queue behind each other.
SANDBOX_BUSY_SHARE = 0.85
SUCCESS_WORDS = ("success", "completed", "ok")
DILIGENT_CHECKS = ["non_operational_website"]
DATAFOLD_METRIC_SPEC = {
    "schedule": {"type": "none"},
    "connection_id": 11,
    "metric": {"type": "table", "table": "PROD.SALES.ORDERS", "metric": "row_count"},
    "alert": {"type": "automatic", "sensitivity": 50},
}


# ---- options ----------------------------------------------------------------------------------


def seconds_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    try:
        bounds = float(low), float(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN-MAX seconds, e.g. 10-40, got {text!r}") from None
    if not 0 < bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"expected 0 < MIN <= MAX, got {text!r}")
    return bounds


def vendor_list(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in chosen if name not in VENDORS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"vendors are a comma-separated subset of {','.join(VENDORS)}")
    return chosen


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waits", type=int, default=1000, help="waits in all, split evenly over the vendors")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="P, seconds between a wait's reads")
    parser.add_argument("--run-seconds", type=seconds_range, default=None, metavar="MIN-MAX",
                        help="how long runs last, spread uniformly (default 10-40, or 5-15 below 300 waits)")
    parser.add_argument("--duration", type=float, default=None,
                        help="cap on each mode's wait, in seconds (default: the longest run + 20)")
    parser.add_argument("--vendors", type=vendor_list, default=VENDORS, help="e.g. encrata,datafold")
    parser.add_argument("--datafold-runs-per-monitor", type=int, default=3)
    parser.add_argument("--mode", choices=("ours", "baseline", "both"), default="both")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--profile", metavar="PREFIX", default=None,
                        help="write each mode's cProfile of the waits to PREFIX.<mode>.prof (figures then include "
                             "the profiler's own cost; read with python -m pstats)")
    args = parser.parse_args(argv)
    if args.waits < len(args.vendors) or args.poll_interval <= 0 or args.datafold_runs_per_monitor < 1:
        parser.error("need at least one wait per vendor, a positive poll interval and runs per monitor")
    # Under a minute for a quick look: fewer waits are set up in well under a second, so shorter
    # runs still start long before any of them ends.
    args.run_seconds = args.run_seconds or ((10.0, 40.0) if args.waits >= 300 else (5.0, 15.0))
    args.duration = args.duration or args.run_seconds[1] + 20.0
    return args


# ---- the waits and their runs -------------------------------------------------------------------


@dataclass
class Wait:
    """One wait: what it waits for, when that ended according to the sandbox, and what the
    trigger did."""

    vendor: str
    label: str  # the object's name; its "~12.3s" tag picks the outcome rule that sets the run's length
    seconds: float
    monitor_id: Any = None  # Diligent: the monitoring
    run_id: Any = None  # Diligent: None, the wait is for the next execution
    executed_after: str | None = None  # Diligent's reference time
    ended_at: float | None = None  # epoch seconds
    end_uncertainty: float = 0.0  # seconds either side of ended_at
    opened: float | None = None  # monotonic, when the trigger started
    opened_at: float | None = None  # epoch seconds, the same moment
    fired: float | None = None  # monotonic, when its event arrived
    fired_at: float | None = None  # epoch seconds, the same moment
    status: str | None = None
    message: str | None = None


def tag(seconds: float) -> str:
    return f"~{seconds:.1f}s"


def plan_waits(args: argparse.Namespace) -> list[Wait]:
    """The waits of one mode. Every mode gets the same durations (same seed), so each meets the
    same pattern of run ends; Datafold runs of one monitor share its duration."""
    rng = random.Random(args.seed)
    low, high = args.run_seconds

    def duration() -> float:
        return round(rng.uniform(low, high), 1)

    counts = split_evenly(args.waits, len(args.vendors))
    waits: list[Wait] = []
    for vendor, count in zip(args.vendors, counts):
        if vendor == "datafold":
            per_monitor = args.datafold_runs_per_monitor
            for monitor in range(math.ceil(count / per_monitor)):
                seconds = duration()
                label = f"bench f{monitor:04d} {tag(seconds)}"
                runs = min(per_monitor, count - monitor * per_monitor)
                waits += [Wait(vendor, label, seconds) for _ in range(runs)]
        else:
            for index in range(count):
                seconds = duration()
                waits.append(Wait(vendor, f"bench {vendor[0]}{index:04d} {tag(seconds)}", seconds))
    return waits


def split_evenly(total: int, parts: int) -> list[int]:
    return [total // parts + (index < total % parts) for index in range(parts)]


def outcome_flags(waits: list[Wait]) -> list[str]:
    """One sandbox rule per duration: a glob on the name's tag, the vendor's default outcome."""
    seconds = sorted({wait.seconds for wait in waits})
    return [flag for value in seconds for flag in ("--outcome", f"*:*{tag(value)}=@{value:.1f}")]


# ---- the sandbox, in a process of its own -------------------------------------------------------


class SandboxProcess:
    """``python -m airflow_provider_monitoring.sandbox`` with this benchmark's key and rules; its
    connections as ``AIRFLOW_CONN_*`` values, and its CPU time."""

    def __init__(self, flags: list[str]):
        command = [sys.executable, "-m", "airflow_provider_monitoring.sandbox", "--port", "0", "--api-key", KEY,
                   "--no-default-rules", *flags]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.env: dict[str, str] | None = None

    def connections(self) -> dict[str, str]:
        """The three ``export AIRFLOW_CONN_...`` lines it prints once it serves."""
        if self.env is None:
            self.env = {}
            for _ in VENDORS:
                line = self.process.stdout.readline()
                if not line:
                    raise SystemExit("the sandbox exited before it served")
                name, value = shlex.split(line.removeprefix("export "))[0].split("=", 1)
                self.env[name] = value
        return self.env

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


# ---- set-up: monitors and runs, through the sync hooks --------------------------------------------


def set_up(waits: list[Wait], runs_per_monitor: int) -> None:
    """Create what the waits watch, then start every run in one go, so that none ends before the
    waits start (the shortest run outlasts the starts)."""
    encrata = [wait for wait in waits if wait.vendor == "encrata"]
    datafold = [wait for wait in waits if wait.vendor == "datafold"]
    create_encrata_monitors(encrata)
    datafold_monitors = create_datafold_monitors(datafold)
    trigger_encrata_runs(encrata)
    run_datafold_monitors(datafold_monitors, runs_per_monitor)
    create_diligent_monitorings([wait for wait in waits if wait.vendor == "diligent"])


def create_encrata_monitors(waits: list[Wait]) -> None:
    from airflow_provider_monitoring.hooks.encrata import EncrataHook

    hook = EncrataHook()
    for wait in waits:
        wait.monitor_id = hook.create_monitor(wait.label, monitor_type="domain", targets=["example.com"])["id"]


def trigger_encrata_runs(waits: list[Wait]) -> None:
    from airflow_provider_monitoring.hooks.encrata import EncrataHook

    hook = EncrataHook()
    for wait in waits:
        with started(wait):
            wait.run_id = hook.trigger_run(wait.monitor_id)["run_id"]


def create_datafold_monitors(waits: list[Wait]) -> dict[Any, list[Wait]]:
    """One monitor per label; its waits, by monitor id."""
    from airflow_provider_monitoring.hooks.datafold import DatafoldHook

    hook = DatafoldHook()
    by_label: dict[str, list[Wait]] = {}
    for wait in waits:
        by_label.setdefault(wait.label, []).append(wait)
    monitors = {}
    for label, group in by_label.items():
        monitor_id = hook.create_monitor("metric", {**DATAFOLD_METRIC_SPEC, "name": label})
        for wait in group:
            wait.monitor_id = monitor_id
        monitors[monitor_id] = group
    return monitors


def run_datafold_monitors(monitors: dict[Any, list[Wait]], runs_per_monitor: int) -> None:
    from airflow_provider_monitoring.hooks.datafold import DatafoldHook

    hook = DatafoldHook()
    # Round by round (the first run of every monitor, then the second, ...), so the runs of one
    # monitor start, and end, a little apart, as runs of different DAG runs would.
    for round_index in range(runs_per_monitor):
        for monitor_id, group in monitors.items():
            if round_index < len(group):
                with started(group[round_index]) as wait:
                    wait.run_id = hook.run_monitor(monitor_id)


def create_diligent_monitorings(waits: list[Wait]) -> None:
    """Bulk creates with ``run_now`` (the default): each queues its monitoring's first execution at
    once, the one the wait is for; the reference time is taken just before the request."""
    from airflow_provider_monitoring._http.values import parse_time
    from airflow_provider_monitoring._vendors import DILIGENT_BULK_LIMIT
    from airflow_provider_monitoring.hooks.diligent import DiligentHook

    hook = DiligentHook()
    for start in range(0, len(waits), DILIGENT_BULK_LIMIT):
        batch = waits[start:start + DILIGENT_BULK_LIMIT]
        items = [{"website": f"https://{wait.label.split()[1]}.bench.example.com", "checks": DILIGENT_CHECKS,
                  "external_id": wait.label} for wait in batch]
        before = datetime.now(timezone.utc).isoformat()
        created = {item["external_id"]: item for item in hook.bulk_create_monitorings(items)["items"]}
        for wait in batch:
            monitoring = created[wait.label]
            wait.monitor_id, wait.executed_after = monitoring["id"], before
            # The run in progress: its execution_time, as the sandbox recorded it.
            wait.ended_at = parse_time(monitoring["next_run_at"]).timestamp()


@contextlib.contextmanager
def started(wait: Wait) -> Iterator[Wait]:
    """Around the request that starts the wait's run: the run ends its duration after the middle
    of that request (the sandbox takes the start while answering it)."""
    sent = time.time()
    yield wait
    answered = time.time()
    wait.ended_at = (sent + answered) / 2 + wait.seconds
    wait.end_uncertainty = (answered - sent) / 2


# ---- the triggers, as the triggerer gets them -----------------------------------------------------


def deferred_trigger(wait: Wait, poll_interval: float, timeout: float) -> BaseTrigger:
    """The trigger the vendor's public sensor defers to (what a worker hands to Airflow)."""
    from airflow.sdk.bases.operator import ExecutorSafeguard
    from airflow.sdk.exceptions import TaskDeferred

    sensor = make_sensor(wait, poll_interval=poll_interval, timeout=timeout, deferrable=True)
    # Marked as run by the task runner (as it does), so execute() does not warn a thousand times.
    token = ExecutorSafeguard.tracker.set(sensor)
    try:
        sensor.execute({})
    except TaskDeferred as deferred:
        return deferred.trigger
    finally:
        ExecutorSafeguard.tracker.reset(token)
    raise RuntimeError(f"{type(sensor).__name__} did not defer")


def make_sensor(wait: Wait, **kwargs: Any) -> Any:
    task_id = f"wait_{wait.vendor}_{wait.monitor_id}_{wait.run_id}"
    if wait.vendor == "encrata":
        from airflow_provider_monitoring.sensors.encrata import EncrataRunSensor

        return EncrataRunSensor(task_id=task_id, monitor_id=wait.monitor_id, run_id=wait.run_id, **kwargs)
    if wait.vendor == "diligent":
        from airflow_provider_monitoring.sensors.diligent import DiligentExecutionSensor

        return DiligentExecutionSensor(task_id=task_id, monitoring_id=wait.monitor_id,
                                       executed_after=wait.executed_after, **kwargs)
    from airflow_provider_monitoring.sensors.datafold import DatafoldMonitorRunSensor

    return DatafoldMonitorRunSensor(task_id=task_id, monitor_id=wait.monitor_id, run_id=wait.run_id, **kwargs)


def rebuilt(trigger: BaseTrigger) -> BaseTrigger:
    """The trigger as the triggerer builds it from its database row: the kwargs through Airflow's
    serde and JSON (as ``Trigger.encrypt_kwargs`` / ``_decrypt_kwargs`` do, less the encryption),
    the classpath imported, ``cls(**kwargs)``."""
    from airflow.sdk.serde import deserialize, serialize
    from airflow.serialization.decoders import smart_decode_trigger_kwargs
    from airflow.serialization.enums import stringify_encoding_keys

    classpath, kwargs = trigger.serialize()
    stored = json.dumps(serialize(stringify_encoding_keys(kwargs)))
    loaded = {key: smart_decode_trigger_kwargs(value) for key, value in deserialize(json.loads(stored)).items()}
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**loaded)


# ---- the baseline: a new session, and so a new TCP connection, at every poll ------------------------


class BaselineRunTrigger(BaseTrigger):
    """The naive wait, as the dbt Cloud provider's trigger does it: every P seconds, a new aiohttp
    session reads this one run's state. ``ids`` are the wait's ids (``monitor_id``, ``run_id``,
    ``executed_after``)."""

    def __init__(self, vendor: str, conn_id: str, ids: dict[str, Any], poll_interval: float, deadline: float):
        super().__init__()
        self.vendor, self.conn_id, self.ids = vendor, conn_id, ids
        self.poll_interval, self.deadline = poll_interval, deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs = {"vendor": self.vendor, "conn_id": self.conn_id, "ids": self.ids,
                  "poll_interval": self.poll_interval, "deadline": self.deadline}
        return f"{type(self).__module__}.{type(self).__qualname__}", kwargs

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.sdk import BaseHook

        conn = await BaseHook.aget_connection(self.conn_id)
        base, headers = conn.host.rstrip("/"), BASELINE_AUTH[self.vendor](conn.password)
        read = BASELINE_READERS[self.vendor]
        while True:
            try:
                async with aiohttp.ClientSession() as session:
                    done, state = await read(session, base, headers, self.ids)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                done, state = False, None  # try again at the next poll
            if done or time.time() >= self.deadline:
                status = ("success" if state in SUCCESS_WORDS else "failed") if done else "timeout"
                yield TriggerEvent({"status": status, "vendor": self.vendor, "vendor_state": state})
                return
            await asyncio.sleep(self.poll_interval)


BASELINE_AUTH = {
    "encrata": lambda key: {"Authorization": f"Bearer {key}"},
    "diligent": lambda key: {"X-API-KEY": key},
    "datafold": lambda key: {"Authorization": f"Key {key}"},
}
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)


async def get_json(session: aiohttp.ClientSession, url: str, headers: dict, params: dict | None = None) -> Any:
    async with session.get(url, headers=headers, params=params, timeout=REQUEST_TIMEOUT) as response:
        response.raise_for_status()
        return await response.json()


async def first_in_pages(session: aiohttp.ClientSession, url: str, headers: dict, params: dict,
                         wanted: Callable[[dict], bool]) -> dict | None:
    """Walk a Diligent cursor listing until ``wanted`` matches an item."""
    while True:
        body = await get_json(session, url, headers, params)
        found = next((item for item in body["items"] if wanted(item)), None)
        if found is not None or not body.get("next_token"):
            return found
        params = {**params, "next_token": body["next_token"]}


async def encrata_baseline(session, base, headers, ids) -> tuple[bool, str | None]:
    body = await get_json(session, f"{base}/api/monitors/{ids['monitor_id']}/runs", headers,
                          {"limit": 100, "offset": 0})
    run = next((run for run in body["runs"] if run["id"] == ids["run_id"]), None)
    status = run and run["status"]
    return status not in (None, "pending", "queued", "running"), status


async def diligent_baseline(session, base, headers, ids) -> tuple[bool, str | None]:
    monitoring_id = ids["monitor_id"]
    now = datetime.now(timezone.utc).isoformat()
    window = {"from": ids["executed_after"], "to": now, "page_size": 100}
    execution = await first_in_pages(session, f"{base}/monitoring-executions", headers, window,
                                     lambda item: item["monitoring_id"] == monitoring_id)
    if execution is not None:
        return True, "ok" if execution["alert_count"] == 0 else "alert"
    monitoring = await first_in_pages(session, f"{base}/monitorings", headers, {"page_size": 100},
                                      lambda item: item["id"] == monitoring_id)
    state = monitoring and monitoring["running_state"]
    return state == "FAILED", state


async def datafold_baseline(session, base, headers, ids) -> tuple[bool, str | None]:
    run = await get_json(session, f"{base}/api/v1/monitors/{ids['monitor_id']}/runs/{ids['run_id']}", headers)
    return run["state"] not in (None, "created", "queued", "checking"), run["state"]


BASELINE_READERS: dict[str, Callable[..., Awaitable[tuple[bool, str | None]]]] = {
    "encrata": encrata_baseline, "diligent": diligent_baseline, "datafold": datafold_baseline,
}


def baseline_trigger(wait: Wait, poll_interval: float, timeout: float) -> BaselineRunTrigger:
    ids = {"monitor_id": wait.monitor_id, "run_id": wait.run_id, "executed_after": wait.executed_after}
    return BaselineRunTrigger(wait.vendor, f"{wait.vendor}_default", ids, poll_interval, time.time() + timeout)


# ---- measuring ------------------------------------------------------------------------------------


class Meter:
    """What went over the wire from this process, seen through an aiohttp TraceConfig that every
    ClientSession gets (see ``install``)."""

    def __init__(self) -> None:
        self.clear()
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._request_start)
        self.trace.on_request_end.append(self._request_end)
        self.trace.on_request_exception.append(self._request_failed)
        self.trace.on_connection_create_end.append(self._connection_made)

    def install(self) -> None:
        """Give every ClientSession made from now on (by the hooks, by the baseline) the trace.
        Patching ``__init__`` reaches sessions however their module imported the class."""
        original, trace = aiohttp.ClientSession.__init__, self.trace

        def init(session: aiohttp.ClientSession, *args: Any, trace_configs: Any = None, **kwargs: Any) -> None:
            original(session, *args, trace_configs=[*(trace_configs or []), trace], **kwargs)

        aiohttp.ClientSession.__init__ = init

    def clear(self) -> None:
        self.requests: list[tuple[float, str]] = []  # (monotonic, vendor)
        self.latencies: dict[str, list[float]] = {vendor: [] for vendor in VENDORS}
        self.failures: dict[str, int] = {vendor: 0 for vendor in VENDORS}
        self.connections: list[tuple[float, str]] = []  # (monotonic, vendor) of each new TCP connection

    @staticmethod
    def _vendor(params: Any) -> str:
        return params.url.path.split("/", 2)[1]  # the sandbox serves each vendor under /<vendor>

    async def _request_start(self, session, context, params) -> None:
        context.vendor, context.started = self._vendor(params), time.monotonic()
        self.requests.append((context.started, context.vendor))

    async def _request_end(self, session, context, params) -> None:
        self.latencies[context.vendor].append(time.monotonic() - context.started)

    async def _request_failed(self, session, context, params) -> None:
        self.failures[context.vendor] += 1

    async def _connection_made(self, session, context, params) -> None:
        # Fired inside a request, with that request's trace context: the vendor is known.
        self.connections.append((time.monotonic(), context.vendor))


async def watch_loop_lag(lags: list[float]) -> None:
    """How late a 50 ms timer fires in the loop the waits share: the time the loop was busy."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + LAG_PERIOD
        await asyncio.sleep(LAG_PERIOD)
        lags.append(loop.time() - due)






def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def raise_open_file_limit() -> None:
    # A thousand waits each holding a connection, and the sandbox (which inherits the limit) the
    # other end of each: more than the usual soft limit of 1,024 descriptors.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# ---- one mode -------------------------------------------------------------------------------------


@dataclass
class Run:
    """What one mode measured."""

    mode: str
    waits: list[Wait]
    poll_interval: float
    setup_seconds: float
    elapsed: float = 0.0
    cpu: float = 0.0
    sandbox_cpu: float = 0.0
    lags: list[float] = field(default_factory=list)
    peak_rss: int = 0
    rss_before: int = 0
    rss_exact: bool = False
    requests: list[tuple[float, str]] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    connections: list[tuple[float, str]] = field(default_factory=list)
    start: float = 0.0


async def first_event(trigger: BaseTrigger) -> dict:
    """What the triggerer does with a deferred task's trigger: run it until its first event."""
    events = trigger.run()
    try:
        event = await anext(events)
    finally:
        await events.aclose()
        await trigger.cleanup()
    return event.payload


async def watch(wait: Wait, trigger: BaseTrigger, delay: float) -> None:
    await asyncio.sleep(delay)
    wait.opened, wait.opened_at = time.monotonic(), time.time()
    try:
        payload = await first_event(trigger)
    except Exception as exc:  # a trigger that raises fails its task in Airflow: count it, do not stop
        payload = {"status": "raised", "message": repr(exc)}
    wait.fired, wait.fired_at = time.monotonic(), time.time()
    wait.status, wait.message = payload.get("status"), payload.get("message")


async def drive(run: Run, triggers: list[BaseTrigger], cap: float) -> None:
    """Every trigger concurrently in this loop, each started at a random point of the first poll
    interval (tasks defer at different moments), until all fired or ``cap`` seconds passed."""
    rng = random.Random(len(triggers))
    lag_watch = asyncio.create_task(watch_loop_lag(run.lags))
    run.start, cpu_before = time.monotonic(), time.process_time()
    tasks = [asyncio.create_task(watch(wait, trigger, rng.uniform(0, run.poll_interval)))
             for wait, trigger in zip(run.waits, triggers)]
    _, pending = await asyncio.wait(tasks, timeout=cap)
    run.elapsed, run.cpu = time.monotonic() - run.start, time.process_time() - cpu_before
    for task in pending:
        task.cancel()
    lag_watch.cancel()
    await asyncio.gather(*pending, lag_watch, return_exceptions=True)


@contextlib.contextmanager
def profiled(path: str | None) -> Iterator[None]:
    """Where the CPU of the waits goes: a cProfile of the block, saved to ``path`` (None: none)."""
    if path is None:
        yield
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(path)
        print(f"profile of the waits written to {path}")


def cpu_seconds(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def measure_mode(mode: str, args: argparse.Namespace, connections: dict[str, str], sandbox_pid: int) -> Run:
    """One mode against its sandbox, in a process of its own (see ``in_own_process``)."""
    os.environ.update(connections)
    meter = Meter()
    meter.install()
    waits = plan_waits(args)
    began = time.monotonic()
    set_up(waits, args.datafold_runs_per_monitor)
    timeout = args.duration + 60  # the triggers' own deadline stays out of the measured window
    make = deferred_trigger if mode == "ours" else baseline_trigger
    triggers = [rebuilt(make(wait, args.poll_interval, timeout)) for wait in waits]
    run = Run(mode, waits, args.poll_interval, time.monotonic() - began)
    first_end = min(wait.ended_at for wait in waits) - time.time()
    print(f"{mode}: {len(waits):,} waits set up in {run.setup_seconds:.1f} s; first run ends in {first_end:.1f} s")
    meter.clear()
    run.rss_exact = reset_peak_rss()
    run.rss_before = peak_rss()
    sandbox_before = cpu_seconds(sandbox_pid)
    with profiled(args.profile and f"{args.profile}.{mode}.prof"):
        asyncio.run(drive(run, triggers, args.duration))
    run.sandbox_cpu = cpu_seconds(sandbox_pid) - sandbox_before
    run.peak_rss = peak_rss()
    run.requests, run.latencies = list(meter.requests), {k: list(v) for k, v in meter.latencies.items()}
    run.failures, run.connections = dict(meter.failures), list(meter.connections)
    return run


# ---- figures --------------------------------------------------------------------------------------


def wait_polls(run: Run, vendor: str | None = None) -> float:
    """Polls owed: each wait's open time over P, summed (a wait cut by the cap counts to the end)."""
    end = run.start + run.elapsed
    return sum(((wait.fired or end) - wait.opened) / run.poll_interval
               for wait in run.waits if wait.opened is not None and vendor in (None, wait.vendor))


def requests_per_poll_per_wait(run: Run, vendor: str | None = None) -> float:
    sent = sum(1 for _, who in run.requests if vendor in (None, who))
    owed = wait_polls(run, vendor)
    return sent / owed if owed else math.nan


def polls(run: Run) -> float:
    return run.elapsed / run.poll_interval


def cpu_per_poll(run: Run) -> float:
    return run.cpu / polls(run)


def new_connections_per_poll(run: Run) -> float:
    after = run.start + WARM_UP_POLLS * run.poll_interval
    counted = polls(run) - WARM_UP_POLLS
    if counted <= 0:
        return math.nan
    return sum(1 for moment, _ in run.connections if moment >= after) / counted


def connections_by_vendor(run: Run) -> dict[str, int]:
    """New connections after warm-up, by vendor."""
    after = run.start + WARM_UP_POLLS * run.poll_interval
    return {vendor: sum(1 for moment, who in run.connections if moment >= after and who == vendor)
            for vendor in {wait.vendor: None for wait in run.waits}}


def detection_latencies(run: Run, vendor: str | None = None) -> list[float]:
    return [wait.fired_at - wait.ended_at for wait in run.waits
            if wait.fired_at is not None and vendor in (None, wait.vendor)]


def all_latencies(run: Run, vendor: str | None = None) -> list[float]:
    return [value for who, values in run.latencies.items() if vendor in (None, who) for value in values]


def sandbox_verdict(run: Run) -> tuple[bool, str]:
    """Whether the sandbox kept up: a single-threaded server that is busy most of the time queues
    requests, and then the figures are the sandbox's, not the triggers'. Judged on its CPU share
    alone: the request latency seen here also holds this loop's own lag."""
    share = run.sandbox_cpu / run.elapsed if run.elapsed else 0.0
    latencies = all_latencies(run)
    text = (f"sandbox CPU {share:.0%} of a core; request latency seen here p50 "
            f"{percentile(latencies, 0.5) * 1e3:.0f} ms, p99 {percentile(latencies, 0.99) * 1e3:.0f} ms; "
            f"{sum(run.failures.values())} requests failed")
    return share < SANDBOX_BUSY_SHARE, text


@dataclass
class Row:
    label: str
    target: str
    value: Callable[[Run], float]
    unit_scale: float = 1.0
    fmt: str = "{:.3f}"
    # Whether ours meets the target, given ours and the baseline's run (None: no baseline ran);
    # None when it cannot be told.
    meets: Callable[[float, Run | None], bool | None] | None = None


def figure_rows(args: argparse.Namespace) -> list[Row]:
    p = args.poll_interval
    rows = [Row("requests/poll/wait, all", "-", requests_per_poll_per_wait)]
    for vendor in args.vendors:
        limit = MAX_REQUESTS_PER_POLL_PER_WAIT[vendor]
        rows.append(Row(f"requests/poll/wait, {vendor}", f"<= {limit:g}",
                        lambda run, v=vendor: requests_per_poll_per_wait(run, v),
                        meets=lambda value, _, limit=limit: value <= limit))
    rows += [
        Row("CPU ms/poll", "<= 1/3 of baseline", cpu_per_poll, 1e3, "{:.1f}",
            meets=lambda value, base: None if base is None else value <= MAX_CPU_RATIO * cpu_per_poll(base) * 1e3),
        Row("CPU us/wait-poll", "-", lambda run: run.cpu / wait_polls(run), 1e6, "{:.0f}"),
        Row(f"new TCP conns/poll (after {WARM_UP_POLLS} polls)", "0", new_connections_per_poll, 1.0, "{:.1f}",
            meets=lambda value, _: value <= MAX_NEW_CONNECTIONS_PER_POLL),
    ]
    for vendor in (None, *args.vendors):
        name = vendor or "all"
        rows.append(Row(f"detection p50 s, {name}", "-",
                        lambda run, v=vendor: percentile(detection_latencies(run, v), 0.5), 1.0, "{:.2f}"))
        rows.append(Row(f"detection p99 s, {name}", f"<= {p + DETECTION_SLACK:g}",
                        lambda run, v=vendor: percentile(detection_latencies(run, v), 0.99), 1.0, "{:.2f}",
                        meets=lambda value, _: value <= p + DETECTION_SLACK))
    rows += [
        Row("loop lag p99 ms", f"<= {MAX_LOOP_LAG * 1e3:.0f}", lambda run: percentile(run.lags, 0.99), 1e3, "{:.0f}",
            meets=lambda value, _: value <= MAX_LOOP_LAG * 1e3),
        Row("loop lag max ms", "-", lambda run: max(run.lags, default=math.nan), 1e3, "{:.0f}"),
        Row("peak RSS MB", "-", lambda run: run.peak_rss / MB, 1.0, "{:.0f}"),
        Row("peak RSS growth MB", "-", lambda run: (run.peak_rss - run.rss_before) / MB, 1.0, "{:.0f}"),
    ]
    return rows


def describe(run: Run) -> None:
    fired = [wait for wait in run.waits if wait.fired is not None]
    statuses: dict[str, int] = {}
    for wait in fired:
        statuses[wait.status] = statuses.get(wait.status, 0) + 1
    missed = len(run.waits) - len(fired)
    early = sum(1 for wait in run.waits if wait.opened_at is not None and wait.ended_at < wait.opened_at)
    kept_up, sandbox_text = sandbox_verdict(run)
    print(f"{run.mode}: {len(fired):,} of {len(run.waits):,} waits fired in {run.elapsed:.1f} s "
          f"({', '.join(f'{count} {status}' for status, count in sorted(statuses.items()))})"
          + (f"; {missed} still waiting at the cap" if missed else "")
          + (f"; {early} runs ended before their wait started" if early else ""))
    print(f"{' ' * len(run.mode)}  {sandbox_text}: "
          + ("kept up" if kept_up else "COULD NOT KEEP UP: the figures below are bounded by the sandbox"))
    for message in sorted({wait.message for wait in fired if wait.status != "success"})[:3]:
        print(f"{' ' * len(run.mode)}  e.g. {message}")
    uncertainty = max(wait.end_uncertainty for wait in run.waits)
    print(f"{' ' * len(run.mode)}  run ends known to within {uncertainty * 1e3:.0f} ms; new connections after warm-up: "
          + ", ".join(f"{vendor} {count}" for vendor, count in connections_by_vendor(run).items()))


def report(args: argparse.Namespace, runs: dict[str, Run]) -> None:
    print()
    for run in runs.values():
        describe(run)
    ours, base = runs.get("ours"), runs.get("baseline")
    modes = [mode for mode in ("ours", "baseline") if mode in runs]
    print(f"\n{'figure':<38}{'target':>19}" + "".join(f"{mode:>11}" for mode in modes)
          + (f"{'ours/base':>11}" if len(modes) == 2 else "") + ("  ours vs target" if ours else ""))
    for row in figure_rows(args):
        values = {mode: row.value(runs[mode]) * row.unit_scale for mode in modes}
        line = f"{row.label:<38}{row.target:>19}" + "".join(f"{fmt(row.fmt, values[m]):>11}" for m in modes)
        if len(modes) == 2:
            ratio = values["ours"] / values["baseline"] if values["baseline"] else math.nan
            line += f"{fmt('{:.2f}', ratio):>11}"
        if row.meets is not None and ours is not None:
            verdict = None if math.isnan(values["ours"]) else row.meets(values["ours"], base)
            line += "  " + {True: "meets", False: "MISSES", None: "n/a"}[verdict]
        print(line)
    rss = "reset before each mode" if all(run.rss_exact for run in runs.values()) else "not resettable: upper bounds"
    print(f"\npoll = one poll interval P = {args.poll_interval:g} s; CPU and peak RSS are those of the mode's own "
          f"process (the sandbox's CPU is apart, above); peak RSS {rss}")


def fmt(pattern: str, value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else pattern.format(value)


# ---- main -----------------------------------------------------------------------------------------


def in_own_process(function: Callable[..., Run], *args: Any) -> Run:
    """``function(*args)`` in a fresh interpreter: each mode's peak RSS, imports and module state
    (the triggers' shared reads, connection pools) are its own, whichever mode ran first."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def main() -> None:
    args = parse_args()
    raise_open_file_limit()
    modes = ["ours", "baseline"] if args.mode == "both" else [args.mode]
    waits = plan_waits(args)
    counts = {vendor: sum(1 for wait in waits if wait.vendor == vendor) for vendor in args.vendors}
    monitors = len({wait.label for wait in waits if wait.vendor == "datafold"})
    print(f"{len(waits):,} waits: " + ", ".join(f"{vendor} {count}" for vendor, count in counts.items())
          + (f" (Datafold: {monitors} monitors)" if monitors else "")
          + f"; P = {args.poll_interval:g} s; runs last {args.run_seconds[0]:g}-{args.run_seconds[1]:g} s; "
          f"cap {args.duration:g} s per mode; modes: {', '.join(modes)}")
    # One sandbox per mode, all started now (in parallel): each mode meets the same fresh state.
    sandboxes = {mode: SandboxProcess(outcome_flags(waits)) for mode in modes}
    try:
        runs = {mode: in_own_process(measure_mode, mode, args, sandbox.connections(), sandbox.process.pid)
                for mode, sandbox in sandboxes.items()}
    finally:
        for sandbox in sandboxes.values():
            sandbox.stop()
    report(args, runs)


if __name__ == "__main__":
    main()
