"""``airflow-monitoring-sandbox``: serve the three emulated APIs until interrupted.

Prints the ``AIRFLOW_CONN_*`` lines that point the default connections at it, ready to paste
into a shell (or ``eval``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import threading

from airflow_provider_monitoring.sandbox.core import DEFAULT_API_KEY, FaultRule, OutcomeRule, SandboxConfig
from airflow_provider_monitoring.sandbox.server import Sandbox


def parse_outcome(text: str) -> OutcomeRule:
    """``VENDOR:GLOB=OUTCOME[@SECONDS]``, e.g. ``datafold:orders*=alert@5`` or ``*:*=failed``."""
    try:
        target, result = text.split("=", 1)
        vendor, match = target.split(":", 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected VENDOR:GLOB=OUTCOME[@SECONDS], got {text!r}") from None
    outcome, _, seconds = result.partition("@")
    return OutcomeRule(vendor=vendor, match=match, outcome=outcome, seconds=float(seconds) if seconds else None)


def load_config_file(path: str) -> dict:
    """A JSON file with any of: api_key, run_seconds, rules [{vendor, match, outcome, seconds}],
    faults [{kind, method, path, status, retry_after, delay, times}]."""
    with open(path) as handle:
        return json.load(handle)


def build_config(args: argparse.Namespace) -> SandboxConfig:
    data = load_config_file(args.config) if args.config else {}
    config = SandboxConfig(
        api_key=args.api_key or data.get("api_key", DEFAULT_API_KEY),
        run_seconds=args.run_seconds if args.run_seconds is not None else data.get("run_seconds", 2.0),
        rules=[OutcomeRule(**rule) for rule in data.get("rules", [])] + list(args.outcome or []),
        faults=[FaultRule(**fault) for fault in data.get("faults", [])],
        state_file=args.state_file or data.get("state_file"),
    )
    return config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="airflow-monitoring-sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8900, help="port (default 8900; 0 picks a free one)")
    parser.add_argument("--api-key", help=f"key every vendor accepts (default {DEFAULT_API_KEY!r})")
    parser.add_argument("--state-file", help="keep monitors and runs in this JSON file across restarts")
    parser.add_argument("--run-seconds", type=float, help="how long a run stays in progress (default 2)")
    parser.add_argument("--outcome", action="append", type=parse_outcome, metavar="VENDOR:GLOB=OUTCOME[@SECONDS]",
                        help="how matching runs end, e.g. datafold:*=alert (repeatable; first match wins)")
    parser.add_argument("--config", help="JSON file with rules and faults (see the README)")
    args = parser.parse_args(argv)

    try:
        sandbox = Sandbox(build_config(args), host=args.host, port=args.port).start()
    except RuntimeError as exc:
        raise SystemExit(f"airflow-monitoring-sandbox: {exc}") from None
    for name, value in sandbox.connection_env().items():
        print(f"export {name}={shlex.quote(value)}")
    print(f"# sandbox serving {sandbox.url} (/encrata, /diligent, /datafold); Ctrl-C stops it", file=sys.stderr)
    sys.stdout.flush()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    sandbox.stop()


if __name__ == "__main__":
    main()
