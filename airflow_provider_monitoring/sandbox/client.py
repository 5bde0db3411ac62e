"""Drive a running sandbox from a shell: ``airflow-monitoring-sandbox run|schedule|requests``.

    airflow-monitoring-sandbox run diligent https://shop.example.com --alerts 2
    airflow-monitoring-sandbox run encrata <monitor id> --changes
    airflow-monitoring-sandbox run datafold 3 --outcome alert
    airflow-monitoring-sandbox schedule 'diligent:*=30' 'datafold:*=60'   # no rule: show; --off: none
    airflow-monitoring-sandbox requests --method GET --path '/diligent/monitoring-alerts'

Each command is one request to the sandbox's control API (docs/sandbox.md, "Events on request") at ``--url`` (default http://127.0.0.1:8900, where the sandbox and ``make airflow``
serve unless that port was taken).
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict
from typing import Any

from airflow_provider_monitoring.sandbox.core import CONTROL_PREFIX, OUTCOME_WORDS, VENDORS, ScheduleRule, split_flag

DEFAULT_URL = "http://127.0.0.1:8900"
COMMANDS = ("run", "schedule", "requests")


class ControlError(Exception):
    """The control API refused a request: ``status`` (0 when the sandbox could not be reached) and
    ``message``, the sandbox's own words."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}" if status else message)
        self.status, self.message = status, message


def control(url: str, method: str, path: str, body: Any = None) -> Any:
    """One request to the control API of the sandbox at ``url`` (``path`` below ``/_sandbox``); its JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url.rstrip('/')}{CONTROL_PREFIX}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as refusal:
        raise ControlError(refusal.code, error_text(refusal.read())) from None
    except (urllib.error.URLError, OSError) as error:
        raise ControlError(0, f"no sandbox answered at {url}: {getattr(error, 'reason', error)}") from None


def error_text(body: bytes) -> str:
    try:
        return json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace")[:500]


def parse_schedule(text: str) -> ScheduleRule:
    """``VENDOR:GLOB=SECONDS``, e.g. ``diligent:*alert-demo*=30`` (``--schedule``, ``schedule``)."""
    try:
        vendor, match, every = split_flag(text)
        seconds = float(every)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected VENDOR:GLOB=SECONDS, got {text!r}") from None
    try:
        return ScheduleRule(vendor, match, seconds)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None


# ---- the commands -------------------------------------------------------------------------------


def run_fields(args: argparse.Namespace) -> dict:
    """The body of ``POST /_sandbox/<vendor>/runs`` from the command line: a Diligent monitor given
    as an http(s) URL is a website."""
    is_website = args.vendor == "diligent" and args.monitor.startswith(("http://", "https://"))
    fields: dict[str, Any] = {"website" if is_website else "monitor_id": args.monitor}
    options = {"outcome": args.outcome, "seconds": args.seconds, "alerts": args.alerts, "changes": args.changes,
               "checks": args.checks.split(",") if args.checks else None}
    fields.update((name, value) for name, value in options.items() if value is not None)
    return fields


def run_command(args: argparse.Namespace) -> None:
    print(json.dumps(control(args.url, "POST", f"/{args.vendor}/runs", run_fields(args))))


def schedule_command(args: argparse.Namespace) -> None:
    if args.off or args.rules:
        body = {"schedules": [asdict(rule) for rule in args.rules]}
        answer = control(args.url, "PUT", "/schedules", body)
    else:
        answer = control(args.url, "GET", "/schedules")
    rules = [ScheduleRule(**rule) for rule in answer["schedules"]]
    print("\n".join(rule.flag() for rule in rules) or "no schedule")


def requests_command(args: argparse.Namespace) -> None:
    query = urllib.parse.urlencode({name: value for name, value in
                                    (("method", args.method), ("path", args.path), ("since", args.since)) if value})
    for entry in control(args.url, "GET", f"/requests?{query}")["requests"]:
        print(f"{entry['method']} {entry['path']}" + (f"?{entry['query']}" if entry["query"] else ""))


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="airflow-monitoring-sandbox", description=__doc__.splitlines()[0],
                                     epilog="Details: docs/sandbox.md, \"Events on request\".")
    commands = parser.add_subparsers(dest="command", required=True)
    url = argparse.ArgumentParser(add_help=False)
    url.add_argument("--url", default=DEFAULT_URL, help=f"the sandbox (default {DEFAULT_URL})")

    words = "; ".join(f"{vendor}: {', '.join(words)}" for vendor, (words, _) in OUTCOME_WORDS.items())
    start = commands.add_parser("run", parents=[url], help="start a run (Diligent: an execution) now",
                                description="Start a run of a monitor now, as the vendor's API would; print "
                                            "the sandbox's answer (JSON).")
    start.add_argument("vendor", choices=VENDORS)
    start.add_argument("monitor", help="the monitor's id; for Diligent also a website (a new monitoring if it has none)")
    start.add_argument("--outcome", help=f"how it ends (default: the outcome rules); {words}")
    start.add_argument("--seconds", type=float, help="how long it runs (default: the outcome rules)")
    start.add_argument("--alerts", type=int, help="Diligent: the alerts it raises (implies --outcome alert)")
    start.add_argument("--checks", help="Diligent: a new monitoring's checks, comma-separated (default: all)")
    changes = start.add_mutually_exclusive_group()
    changes.add_argument("--changes", action="store_true", default=None, help="Encrata: every target changes")
    changes.add_argument("--no-changes", dest="changes", action="store_false", help="Encrata: no target changes")
    start.set_defaults(handler=run_command)

    timetable = commands.add_parser("schedule", parents=[url], help="show or replace the schedule",
                                    description="Show the schedule, or replace it with the rules given.")
    timetable.add_argument("rules", nargs="*", type=parse_schedule, metavar="VENDOR:GLOB=SECONDS",
                           help="matching monitors run every SECONDS (the first rule that applies decides)")
    timetable.add_argument("--off", action="store_true", help="no schedule: scheduled runs stop")
    timetable.set_defaults(handler=schedule_command)

    log = commands.add_parser("requests", parents=[url], help="list the requests served to the vendors",
                              description="List the requests served to the vendors, oldest first, "
                                          "as METHOD PATH?QUERY.")
    log.add_argument("--method", help="only this method")
    log.add_argument("--path", help="only paths matching this glob, e.g. '/diligent/*'")
    log.add_argument("--since", type=float, help="only requests from this time on (epoch seconds)")
    log.set_defaults(handler=requests_command)
    return parser


def main(argv: list[str]) -> None:
    args = make_parser().parse_args(argv)
    if args.command == "schedule" and args.off and args.rules:
        raise SystemExit("airflow-monitoring-sandbox schedule: give rules or --off, not both")
    try:
        args.handler(args)
    except ControlError as error:
        raise SystemExit(f"airflow-monitoring-sandbox {args.command}: {error}") from None
