"""Throughput and memory of exporting a large Encrata run with ``write_records`` (a figure, not a test).

Creates one domain monitor with 20,000 targets in the offline sandbox, runs it, then exports every
result record, read page by page through ``EncrataHook.get_run_results``, to JSON Lines and to CSV,
and for comparison streams the vendor's own CSV with ``EncrataHook.download_run_results``. Last, the
exporter alone: the JSONL export read back line by line into ``write_records`` (no HTTP), because
the sandbox rebuilds a run's every record to answer each page of 100, so through the API the
figures are mostly the sandbox's.

For each it prints records, seconds, records/s and two memory figures against a baseline taken
just before the export starts:

- peak RSS growth: ``getrusage(RUSAGE_SELF).ru_maxrss`` after, minus the RSS before. Where Linux
  allows, the kernel's peak is reset first (``/proc/self/clear_refs``), so each figure is the peak
  of that export alone; elsewhere it is an upper bound (the peak of the process so far).
- tracemalloc peak: the most memory Python allocated at once during the export, in a second,
  separate pass (tracemalloc slows Python down, so it is kept out of the timed pass).

The acceptance bar: peak RSS grows by less than 50 MB for each export.

The sandbox serves from a child process by default (``Sandbox`` in a ``multiprocessing`` spawn
child), so its own memory (it builds a run's records to answer each page) is not counted as the
exporter's. ``--in-process`` serves it from a thread of this process instead, as the pytest fixture
does; the RSS figures then include the sandbox.

    python benchmarks/export_results.py [--targets 20000] [--in-process]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import tempfile
import time
import tracemalloc
from typing import Callable, Iterator
from _memory import current_rss, peak_rss, reset_peak_rss  # benchmarks/_memory.py, beside this script

MB = 1024 * 1024
BAR_MB = 50
RUN_SECONDS = 0.5


# ---- the sandbox ------------------------------------------------------------------------------


def serve_sandbox(conn) -> None:
    """Child process: serve a sandbox until told to stop."""
    from airflow_provider_monitoring.sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig(run_seconds=RUN_SECONDS)) as sb:
        conn.send(sb.connection_env())
        conn.recv()


@contextlib.contextmanager
def sandbox(in_process: bool) -> Iterator[None]:
    """A running sandbox with this process's default connections pointing at it."""
    if in_process:
        from airflow_provider_monitoring.sandbox import Sandbox, SandboxConfig

        with Sandbox(SandboxConfig(run_seconds=RUN_SECONDS)) as sb:
            os.environ.update(sb.connection_env())
            yield
        return
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=serve_sandbox, args=(child,), daemon=True)
    process.start()
    try:
        os.environ.update(parent.recv())
        yield
    finally:
        parent.send("stop")
        process.join(10)


# ---- memory -----------------------------------------------------------------------------------








def measure(action: Callable[[], int]) -> dict:
    """Run ``action`` (returns a record count): seconds and peak RSS growth over the baseline."""
    exact = reset_peak_rss()
    # After a reset, the same counter is the baseline (statm and ru_maxrss count pages a little
    # differently); without one, the RSS now, which makes the growth an upper bound.
    baseline = peak_rss() if exact else current_rss()
    started = time.perf_counter()
    records = action()
    seconds = time.perf_counter() - started
    return {"records": records, "seconds": seconds, "rss_growth": peak_rss() - baseline, "rss_exact": exact}


def traced_peak(action: Callable[[], int]) -> int:
    """The tracemalloc peak of ``action``, in bytes (allocations made by Python only)."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ---- the benchmark ----------------------------------------------------------------------------


def prepare_run(targets: int) -> tuple[str, str]:
    from airflow_provider_monitoring.hooks.encrata import EncrataHook

    hook = EncrataHook()
    names = [f"d{i}.example.com" for i in range(targets)]
    started = time.perf_counter()
    monitor = hook.create_monitor("export benchmark", monitor_type="domain", targets=names)
    run = hook.trigger_run(monitor["id"])
    deadline = time.monotonic() + 120
    while (status := hook.get_run(monitor["id"], run["run_id"])["status"]) not in ("success", "completed"):
        if status not in ("pending", "queued", "running") or time.monotonic() > deadline:
            raise SystemExit(f"the run did not succeed: {status}")
        time.sleep(0.2)
    print(f"monitor with {targets:,} targets created and run in {time.perf_counter() - started:.1f} s")
    return monitor["id"], run["run_id"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=20_000)
    parser.add_argument("--in-process", action="store_true", help="serve the sandbox from a thread here")
    args = parser.parse_args()
    # Airflow reads AIRFLOW_HOME on import: keep the benchmark out of the user's ~/airflow.
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="apm-bench-airflow-home-"))

    from airflow_provider_monitoring._export import write_records
    from airflow_provider_monitoring.hooks.encrata import EncrataHook

    with sandbox(args.in_process), tempfile.TemporaryDirectory() as workdir:
        monitor_id, run_id = prepare_run(args.targets)

        def export(fmt: str) -> Callable[[], int]:
            def action() -> int:
                results = EncrataHook().get_run_results(monitor_id, run_id)
                return write_records(results, os.path.join(workdir, f"out.{fmt}"), fmt)["records"]
            return action

        def download() -> int:
            path = os.path.join(workdir, "vendor.csv")
            EncrataHook().download_run_results(monitor_id, run_id, path)
            with open(path, "rb") as csv_file:
                return sum(1 for _ in csv_file) - 1  # minus the header row

        def replay(fmt: str) -> Callable[[], int]:
            # The exporter alone: the records of the JSONL export read back one line at a time (no
            # HTTP, no sandbox), so its own cost shows apart from the API's paging.
            def action() -> int:
                with open(os.path.join(workdir, "out.jsonl"), encoding="utf-8") as source:
                    records = (json.loads(line) for line in source)
                    return write_records(records, os.path.join(workdir, f"replay.{fmt}"), fmt)["records"]
            return action

        where = "in this process" if args.in_process else "in a child process"
        print(f"sandbox {where}; bar: peak RSS growth < {BAR_MB} MB\n")
        print(f"{'export':<28}{'records':>9}{'seconds':>9}{'records/s':>11}{'peak RSS +MB':>14}"
              f"{'tracemalloc MB':>16}  bar")
        verdicts = []
        for label, action, judged in (
            ("write_records jsonl", export("jsonl"), True),
            ("write_records csv", export("csv"), True),
            ("download_run_results (raw)", download, False),
            ("  exporter alone: jsonl", replay("jsonl"), True),
            ("  exporter alone: csv", replay("csv"), True),
        ):
            figures = measure(action)
            traced = traced_peak(action)
            growth_mb = figures["rss_growth"] / MB
            verdict = "-" if not judged else ("holds" if growth_mb < BAR_MB else "FAILS")
            if judged:
                verdicts.append(growth_mb < BAR_MB)
            print(f"{label:<28}{figures['records']:>9,}{figures['seconds']:>9.2f}"
                  f"{figures['records'] / figures['seconds']:>11,.0f}{growth_mb:>14.1f}{traced / MB:>16.1f}  {verdict}")
        exact = reset_peak_rss()
        print(f"\npeak RSS {'reset before each export' if exact else 'not resettable here: figures are upper bounds'}")
        print(f"acceptance (peak RSS growth < {BAR_MB} MB for every export): {'HOLDS' if all(verdicts) else 'FAILS'}")


if __name__ == "__main__":
    main()
