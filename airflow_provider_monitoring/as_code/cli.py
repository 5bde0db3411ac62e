"""``airflow-monitoring plan|apply SPEC``: monitors as code from a shell or CI.

Connections are read the Airflow way (``AIRFLOW_CONN_<ID>`` variables or the configured secrets
backend); ``--encrata-conn-id`` and friends pick other ids than ``<vendor>_default``.

Exit codes: ``plan`` 0 no changes, 2 changes, 1 error (a bad spec, a blocked monitor, an API
error), as ``terraform plan -detailed-exitcode``; ``apply`` 0 done (or nothing to do), 1 error or
a failure half-way (the report says what was done; run it again to finish).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from airflow_provider_monitoring.as_code.plan import EXIT_ERROR
from airflow_provider_monitoring.as_code.spec import VENDOR_NAMES as VENDORS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airflow-monitoring",
        description="Monitors as code for Encrata, Diligent and Datafold (docs/monitors-as-code.md).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="show what apply would change (read-only)")
    apply = commands.add_parser("apply", help="make the vendors match the spec")
    for sub in (plan, apply):
        sub.add_argument("spec", help="the YAML spec file")
        sub.add_argument("--prune", action="store_true",
                         help="delete managed monitors that are no longer in the spec")
        sub.add_argument("--json", action="store_true", help="print JSON instead of text")
        for vendor in VENDORS:
            sub.add_argument(f"--{vendor}-conn-id", default=f"{vendor}_default", metavar="CONN_ID",
                             help=f"the Airflow connection to {vendor.capitalize()} (default: {vendor}_default)")
    plan.add_argument("--out", metavar="FILE", help="save the plan, for 'apply --plan FILE'")
    apply.add_argument("--plan", metavar="FILE",
                       help="apply this saved plan, refused if the spec or the vendors changed since")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command; its exit code.

    :param argv: The arguments (default: the process's).
    :param out: Where results go (default: stdout).
    :param err: Where errors go (default: stderr).
    """
    from airflow.sdk.exceptions import AirflowNotFoundException

    from airflow_provider_monitoring._http.errors import MonitoringError

    out, err = out or sys.stdout, err or sys.stderr
    args = build_parser().parse_args(argv)
    conn_ids = {vendor: getattr(args, f"{vendor}_conn_id") for vendor in VENDORS}
    try:
        if args.command == "plan":
            return run_plan(args, conn_ids, out)
        return run_apply(args, conn_ids, out)
    except (MonitoringError, OSError) as exc:
        print(f"error: {exc}", file=err)
        return EXIT_ERROR
    except AirflowNotFoundException as exc:  # the first thing a new user meets: no connection defined
        print(f"error: {exc}; define it (an AIRFLOW_CONN_<ID> variable or the secrets backend) or name "
              "another with --encrata-conn-id, --diligent-conn-id or --datafold-conn-id", file=err)
        return EXIT_ERROR


def run_plan(args: argparse.Namespace, conn_ids: dict[str, str], out: TextIO) -> int:
    from airflow_provider_monitoring.as_code.runner import plan_spec

    plan = plan_spec(args.spec, args.prune, conn_ids)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(plan.as_dict(), handle, indent=1, default=str)
    print(json.dumps(plan.as_dict(), indent=1, default=str) if args.json else plan.render(), file=out)
    if args.out and not args.json:
        print(f"Plan saved to {args.out}; 'airflow-monitoring apply {args.spec} --plan {args.out}' applies it.",
              file=out)
    return plan.exit_code


def run_apply(args: argparse.Namespace, conn_ids: dict[str, str], out: TextIO) -> int:
    from airflow_provider_monitoring.as_code.runner import apply_spec

    saved = read_saved_plan(args.plan) if args.plan else None
    plan, report = apply_spec(args.spec, args.prune, conn_ids, saved)
    if args.json:
        print(json.dumps({"plan": plan.as_dict(), "apply": report.as_dict()}, indent=1, default=str), file=out)
    else:
        print(plan.render(), file=out)
        print(report.render(), file=out)
    return 0 if report.ok else EXIT_ERROR


def read_saved_plan(path: str) -> Any:
    from airflow_provider_monitoring.as_code.plan import PlanError

    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except ValueError:
            raise PlanError(f"{path}: not a saved plan (not JSON)") from None


if __name__ == "__main__":
    sys.exit(main())
