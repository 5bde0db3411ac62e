"""``airflow-monitoring-sandbox``: serve the three emulated APIs until interrupted.

Prints the ``AIRFLOW_CONN_*`` lines that point the default connections at it, ready to paste
into a shell (or ``eval``). The options are described in docs/sandbox.md, "Starting it".
``airflow-monitoring-sandbox run|schedule|requests ...`` drive a running sandbox instead
(``sandbox.client``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import threading

from airflow_provider_monitoring.sandbox import client
from airflow_provider_monitoring.sandbox.client import parse_schedule
from airflow_provider_monitoring.sandbox.core import (
    DEFAULT_API_KEY, DEFAULT_RULES, OUTCOME_WORDS, FaultRule, OutcomeRule, SandboxConfig, ScheduleRule, split_flag,
)
from airflow_provider_monitoring.sandbox.server import Sandbox


def parse_outcome(text: str) -> OutcomeRule:
    """``VENDOR:GLOB=OUTCOME[@SECONDS]``, e.g. ``datafold:orders*=alert@5`` or ``*:*=failed``."""
    try:
        vendor, match, result = split_flag(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected VENDOR:GLOB=OUTCOME[@SECONDS], got {text!r}") from None
    outcome, _, seconds = result.partition("@")
    return OutcomeRule(vendor=vendor, match=match, outcome=outcome, seconds=float(seconds) if seconds else None)


def load_config_file(path: str) -> dict:
    """A JSON file with any of: api_key, run_seconds, state_file, rules [{vendor, match, outcome,
    seconds}], default_rules (the same; [] for none), faults [{kind, method, path, status,
    retry_after, delay, times}], schedules [{vendor, match, every}]."""
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
        schedules=[ScheduleRule(**rule) for rule in data.get("schedules", [])] + list(args.schedule or []),
    )
    if args.no_default_rules:
        config.default_rules = []
    elif "default_rules" in data:
        config.default_rules = [OutcomeRule(**rule) for rule in data["default_rules"]]
    return config


def rules_help() -> str:
    """The epilog of --help: the rule syntax, each vendor's outcome words, the default rules."""
    vendors = "\n".join(f"  {vendor:<9} {', '.join(words)} (any other word is {other})"
                         for vendor, (words, other) in OUTCOME_WORDS.items())
    defaults = "\n".join(f"  --outcome '{rule.flag()}'" for rule in DEFAULT_RULES)
    return f"""\
outcome rules (--outcome VENDOR:GLOB=OUTCOME[@SECONDS], repeatable):
  When a run starts, the first rule whose VENDOR (encrata, diligent, datafold or *) is the run's
  and whose GLOB (case-sensitive) fits one of the object's keys (id, name, website, external id,
  tags, targets) decides how it ends (OUTCOME, in the vendor's words; empty: the vendor's
  default) and how long it runs (SECONDS; default --run-seconds). Rules are tried in order: the
  --config file's, then --outcome's, then the default rules; without a match a run ends in its
  vendor's default outcome.

  --outcome 'datafold:orders*=alert@5'   Datafold monitors named orders... alert after 5 s
  --outcome '*:*=failed'                 every run of every vendor ends failed
  --outcome 'encrata:*@bad.example=failed' --outcome 'diligent:*risky*=alert'
  --outcome '*:slow*=@30'                only the duration: 30 s, the vendor's default outcome

outcome words (the first is the vendor's default):
{vendors}

default rules (after yours; --no-default-rules drops them), which the example DAGs rely on:
{defaults}

schedule rules (--schedule VENDOR:GLOB=SECONDS, repeatable):
  Matching monitors that the vendor would run by itself (active, enabled) start a run every
  SECONDS, which ends as the outcome rules say; the first rule that applies decides.

  --schedule 'diligent:*alert-demo*=30'  the alert-demo monitorings run, and alert, every 30 s

commands for a running sandbox (each has its own --help):
  airflow-monitoring-sandbox run VENDOR MONITOR [--outcome WORD] [--alerts N] [--changes] ...
  airflow-monitoring-sandbox schedule [VENDOR:GLOB=SECONDS ...] [--off]
  airflow-monitoring-sandbox requests [--method M] [--path GLOB]

Details: docs/sandbox.md in the provider's repository."""


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="airflow-monitoring-sandbox", description=__doc__.splitlines()[0],
                                     epilog=rules_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8900, help="port (default 8900; 0 picks a free one)")
    parser.add_argument("--api-key", help=f"key every vendor accepts (default {DEFAULT_API_KEY!r})")
    parser.add_argument("--state-file", help="keep monitors and runs in this JSON file across restarts")
    parser.add_argument("--run-seconds", type=float, help="how long a run stays in progress (default 2)")
    parser.add_argument("--outcome", action="append", type=parse_outcome, metavar="VENDOR:GLOB=OUTCOME[@SECONDS]",
                        help="how matching runs end, e.g. datafold:*=alert (repeatable; first match wins; see below)")
    parser.add_argument("--schedule", action="append", type=parse_schedule, metavar="VENDOR:GLOB=SECONDS",
                        help="matching monitors run every SECONDS, e.g. 'diligent:*=30' (repeatable; see below)")
    parser.add_argument("--no-default-rules", action="store_true",
                        help="leave out the default rules (below): only your rules decide")
    parser.add_argument("--config", help="JSON file with settings, rules, faults and schedules (docs/sandbox.md)")
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in client.COMMANDS:
        return client.main(argv)
    args = make_parser().parse_args(argv)

    try:
        config = build_config(args)
    except (OSError, TypeError, ValueError) as exc:  # an unreadable config file, or a bad entry in it
        raise SystemExit(f"airflow-monitoring-sandbox: --config {args.config}: {exc}") from None
    try:
        sandbox = Sandbox(config, host=args.host, port=args.port).start()
    except RuntimeError as exc:
        raise SystemExit(f"airflow-monitoring-sandbox: {exc}") from None
    for name, value in sandbox.connection_env().items():
        print(f"export {name}={shlex.quote(value)}")
    print(f"# sandbox serving {sandbox.url} (/encrata, /diligent, /datafold; control API /_sandbox); Ctrl-C stops it", file=sys.stderr)
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
