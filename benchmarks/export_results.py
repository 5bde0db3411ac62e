"""How fast ``write_records`` exports an Encrata run, against a raw download of the same pages (a figure, not a test).

What is measured, at ``--records`` result records (default 100,000) in pages of 100:

- ``raw download`` (the baseline): every results page fetched through the hook's own requests
  session (``EncrataHook().client.session``: the same library, session and connection settings),
  same URLs, and each body's bytes streamed to a file as they arrive (``iter_content``), with no
  JSON decoding at all. It asks with ``session.get``, as a plain requests download does, which
  reads the proxy and CA settings from the environment for every request; the hook's client
  reads them once per session, which makes its requests cheaper than the baseline's.
- ``jsonl`` and ``csv``: ``write_records(EncrataHook().get_run_results(...), path, fmt)``, the
  whole path a task takes: the hook reads the ``encrata_default`` connection (an
  ``AIRFLOW_CONN_ENCRATA_DEFAULT`` variable pointing at the server below), its client fetches and
  decodes each page, the page walker hands on the records (their ``changes`` normalised), and
  the exporter writes them (the local file written under a temporary name, fsynced and renamed).

The pages come from a loopback HTTP server started here in a child process (so its CPU and memory
are not this process's), and every page is rendered before anything is timed: the server only
looks the request line up and writes the stored answer, keep-alive. The records are the offline
sandbox's own (``EncrataApp.records``: id, target, ``data``, ``changes`` for about a third of the
targets, ``has_changes``), and each page body is what the sandbox answers for it, byte for byte
(``{"results": [...], "total": N}``, serialised by ``json.dumps`` as aiohttp does), so only the
sandbox's cost of building a page is left out. (The sandbox rebuilds a run's records to answer
each page, which at 100,000 records would make every figure the sandbox's.) The server's CPU time
is printed too, to show it is not what the figures measure.

For reference, ``hook walk only`` reads the same records through the hook and drops them: what
the export costs on top of fetching and decoding shows between it and the two exports.

Each of these is measured ``--rounds`` times (default 3), interleaved (raw, walk, jsonl, csv,
raw, ...), because the machine is shared and noisy. Printed for each: the best and median
records/s, the ratio of its best to the baseline's best taken in the same run (1.00 = as fast as
the raw download), and the peak RSS growth over the RSS just before it started (the largest of
its rounds). Where Linux allows, the kernel's peak is reset before each measurement
(``/proc/self/clear_refs``), so the figure is that measurement's alone; elsewhere it is an upper
bound.

The bars: JSONL at least 0.9x and CSV at least 0.8x the raw download's records/s, and peak RSS
growth under 50 MB for each export.

    python benchmarks/export_results.py [--records 100000] [--rounds 3] [--monitor-type domain]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from typing import Callable

from _memory import current_rss, peak_rss, reset_peak_rss  # benchmarks/_memory.py, beside this script

MB = 1024 * 1024
BAR_MB = 50
BAR_RATIO = {"jsonl": 0.9, "csv": 0.8}
PAGE = 100  # the hook's page size (Encrata's documented maximum)
MONITOR_ID, RUN_ID = "bench-monitor", "bench-run"
API_KEY = "benchmark-key"
API_ROOT = "/encrata"  # where the connection's host points, as on the sandbox
RESULTS_PATH = f"/api/monitors/{MONITOR_ID}/runs/{RUN_ID}/results"  # the hook's path under it


# ---- the page server (child process) ----------------------------------------------------------


def page_path(offset: int) -> str:
    """One page's path and query under the API root, spelled as the hook's client sends it."""
    return f"{RESULTS_PATH}?limit={PAGE}&offset={offset}"


def sandbox_records(count: int, monitor_type: str) -> list[dict]:
    """``count`` result records of one successful run, built by the sandbox's own Encrata emulator."""
    from airflow_provider_monitoring.sandbox.core import Context, SandboxConfig
    from airflow_provider_monitoring.sandbox.encrata import EncrataApp

    targets = [target_name(monitor_type, index) for index in range(count)]
    app = EncrataApp(Context(SandboxConfig(), {}, lambda: None))
    return app.records({"id": RUN_ID, "monitor_type": monitor_type, "targets": targets}, targets)


def target_name(monitor_type: str, index: int) -> str:
    if monitor_type == "email":
        return f"person{index}@example.com"
    if monitor_type == "phone":
        return f"+1555{index:07d}"
    if monitor_type == "ip":
        return f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"
    return f"d{index}.example.com"


def rendered_pages(records: list[dict]) -> dict[bytes, bytes]:
    """Request target -> the whole HTTP answer (status line, headers, body) for every page."""
    answers = {}
    for offset in range(0, len(records), PAGE):
        # As the sandbox answers a page: aiohttp's json_response, which serialises with json.dumps.
        body = json.dumps({"results": records[offset:offset + PAGE], "total": len(records)}).encode()
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        answers[(API_ROOT + page_path(offset)).encode()] = head + body
    return answers


NOT_FOUND_BODY = b'{"error": "not found"}'
NOT_FOUND = (b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
             % len(NOT_FOUND_BODY) + NOT_FOUND_BODY)


class PageServer(asyncio.Protocol):
    """Keep-alive HTTP/1.1 for GETs without a body: each request line is looked up, nothing parsed."""

    def __init__(self, answers: dict[bytes, bytes]):
        self.answers = answers
        self.pending = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.pending += data
        while b"\r\n\r\n" in self.pending:
            head, _, self.pending = self.pending.partition(b"\r\n\r\n")
            target = head.split(b" ", 2)[1]
            self.transport.write(self.answers.get(target, NOT_FOUND))


def serve_pages(conn, count: int, monitor_type: str) -> None:
    """Child process: render the pages, serve them on a loopback port until told to stop, then
    send back the CPU time spent serving."""
    answers = rendered_pages(sandbox_records(count, monitor_type))
    body_bytes = sum(len(answer) for answer in answers.values())

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: PageServer(answers), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        conn.send({"port": port, "pages": len(answers), "bytes": body_bytes})
        await loop.run_in_executor(None, conn.recv)  # "stop"
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        server.close()
        conn.send((cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime))

    asyncio.run(main())


# ---- measuring --------------------------------------------------------------------------------


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


def raw_download(total: int, path: str) -> int:
    """The baseline: every page's bytes streamed to a file as they arrive, no JSON decoding, through
    the hook's own requests session (the same session type and settings the export uses)."""
    from airflow_provider_monitoring._http.client import READ_SIZE
    from airflow_provider_monitoring.hooks.encrata import EncrataHook

    hook = EncrataHook()
    session, settings = hook.client.session, hook.client.settings
    headers = {"Accept": "application/json", **settings.auth_headers(), "Accept-Encoding": "identity"}
    with open(path, "wb") as sink:
        for offset in range(0, total, PAGE):
            url = settings.url(page_path(offset))
            with session.get(url, headers=headers, stream=True, allow_redirects=False) as response:
                response.raise_for_status()
                for chunk in response.iter_content(READ_SIZE):
                    sink.write(chunk)
    hook.close()
    return total


def walk_only() -> int:
    """For reference: the hook's records read and dropped (fetch, decode, page walk; no export)."""
    from airflow_provider_monitoring.hooks.encrata import EncrataHook

    return sum(1 for _ in EncrataHook().get_run_results(MONITOR_ID, RUN_ID))


def export(fmt: str, path: str) -> Callable[[], int]:
    def action() -> int:
        from airflow_provider_monitoring._export import write_records
        from airflow_provider_monitoring.hooks.encrata import EncrataHook

        return write_records(EncrataHook().get_run_results(MONITOR_ID, RUN_ID), path, fmt)["records"]

    return action


# ---- the benchmark ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--monitor-type", default="domain", choices=("email", "phone", "domain", "ip", "company", "darkweb"))
    args = parser.parse_args()
    # Airflow reads AIRFLOW_HOME on import: keep the benchmark out of the user's ~/airflow.
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="apm-bench-airflow-home-"))

    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=serve_pages, args=(child, args.records, args.monitor_type), daemon=True)
    server.start()
    served = parent.recv()
    host = f"http://127.0.0.1:{served['port']}"
    os.environ["AIRFLOW_CONN_ENCRATA_DEFAULT"] = json.dumps(
        {"conn_type": "encrata", "host": host + API_ROOT, "password": API_KEY}
    )
    print(f"{args.records:,} {args.monitor_type} records in {served['pages']:,} pages "
          f"({served['bytes'] / MB:.1f} MB of answers) rendered in {time.perf_counter() - started:.1f} s")

    # Warm-up, untimed: imports, the connection lookup, the first TCP connections.
    with tempfile.TemporaryDirectory() as workdir:
        actions = {
            "raw download": lambda: raw_download(args.records, os.path.join(workdir, "raw.json")),
            "hook walk only": walk_only,
            "jsonl": export("jsonl", os.path.join(workdir, "out.jsonl")),
            "csv": export("csv", os.path.join(workdir, "out.csv")),
        }
        for action in actions.values():
            assert action() == args.records
        runs: dict[str, list[dict]] = {label: [] for label in actions}
        for _ in range(args.rounds):
            for label, action in actions.items():
                figures = measure(action)
                assert figures["records"] == args.records, figures
                runs[label].append(figures)
    parent.send("stop")
    server_cpu = parent.recv()
    server.join(10)

    print_report(runs, args.records, server_cpu, reset_peak_rss())


def print_report(runs: dict[str, list[dict]], records: int, server_cpu: float, rss_exact: bool) -> None:
    def best(label: str) -> float:
        return records / min(figure["seconds"] for figure in runs[label])

    baseline = best("raw download")
    rounds = len(runs["raw download"])
    print(f"\n{rounds} rounds each, interleaved; ratio = best records/s over the raw download's best\n")
    print(f"{'':<16}{'best rec/s':>12}{'median rec/s':>14}{'ratio':>8}{'bar':>6}{'peak RSS +MB':>14}  verdict")
    verdicts = []
    for label, figures in runs.items():
        median = records / statistics.median(figure["seconds"] for figure in figures)
        growth_mb = max(figure["rss_growth"] for figure in figures) / MB
        ratio = best(label) / baseline
        bar = BAR_RATIO.get(label)
        if bar is None:
            verdict, bar_text = "-", "-"
        else:
            holds = ratio >= bar and growth_mb < BAR_MB
            verdicts.append(holds)
            verdict, bar_text = ("holds" if holds else "FAILS"), f"{bar:.1f}"
        print(f"{label:<16}{best(label):>12,.0f}{median:>14,.0f}{ratio:>8.2f}{bar_text:>6}{growth_mb:>14.1f}  {verdict}")
    total_seconds = sum(figure["seconds"] for figures in runs.values() for figure in figures)
    print(f"\npage server: {server_cpu:.2f} s of CPU over {total_seconds:.1f} s of measured exports and downloads "
          f"(warm-up included in its CPU)")
    print(f"peak RSS {'reset before each measurement' if rss_exact else 'not resettable here: figures are upper bounds'}")
    print(f"bars (JSONL >= {BAR_RATIO['jsonl']}x, CSV >= {BAR_RATIO['csv']}x the raw download, "
          f"peak RSS growth < {BAR_MB} MB): {'HOLD' if all(verdicts) else 'FAIL'}")


if __name__ == "__main__":
    main()
