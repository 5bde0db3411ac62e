"""Requests per second the sandbox serves on loopback (a figure, not a test).

Starts ``airflow-monitoring-sandbox`` in its own process, so the load generator here does not
share its interpreter, then sends authenticated GETs from 64 concurrent aiohttp workers for a few
seconds against one cheap endpoint of each vendor.

    python benchmarks/sandbox_rps.py [--seconds 5] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time

import aiohttp

KEY = "bench-key"
TARGETS = {
    "encrata": ("/api/monitors", {"Authorization": f"Bearer {KEY}"}),
    "diligent": ("/monitorings?page_size=1", {"X-API-KEY": KEY}),
    "datafold": ("/api/v1/monitors?page=1&page_size=1", {"Authorization": f"Key {KEY}"}),
}


async def hammer(url: str, headers: dict, seconds: float, concurrency: int) -> tuple[int, int]:
    done = errors = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker() -> None:
            nonlocal done, errors
            while time.monotonic() < deadline:
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    done += 1
                    errors += response.status != 200
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_monitoring.sandbox", "--port", "0", "--api-key", KEY],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        hosts = {}
        for _ in range(3):
            name, value = server.stdout.readline().strip().removeprefix("export ").split("=", 1)
            spec = json.loads(value.strip("'"))
            hosts[spec["conn_type"]] = spec["host"]
        for vendor, (path, headers) in TARGETS.items():
            done, errors = asyncio.run(hammer(hosts[vendor] + path, headers, args.seconds, args.concurrency))
            print(f"{vendor:<9} GET {path:<40} {done / args.seconds:8.0f} requests/s  ({errors} non-200)")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
