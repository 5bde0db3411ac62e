"""Run every DAG of a folder with ``dag.test()`` against a fresh sandbox, one summary line per DAG.

    python -m airflow_provider_monitoring.sandbox.demo example_dags

A DAG tagged ``failure-path`` is expected to end failed (it demonstrates one); any other DAG is
expected to succeed. The exit status is non-zero when a DAG ends otherwise than expected, or when
the folder holds no DAG. Airflow runs in a home of its own (``--airflow-home``, default
``.airflow-demo``; never the user's own database), and its log lines go to ``demo.log`` there.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time

from airflow_provider_monitoring.sandbox.core import SandboxConfig
from airflow_provider_monitoring.sandbox.server import Sandbox

FAILURE_TAG = "failure-path"

# Short runs; the outcomes the example DAGs need come from the sandbox's default rules
# (docs/sandbox.md, "Outcome rules").
DEMO_CONFIG = SandboxConfig(run_seconds=1.0)


def prepare_airflow(dag_folder: str, home: str) -> str:
    """Point Airflow (before it is imported) at the folder and a home of the demo's own, and make
    sure its sqlite database exists; the path of the log."""
    home = os.path.abspath(home)
    for name in [key for key in os.environ if key.startswith(("AIRFLOW__DATABASE__", "AIRFLOW_CONN_"))]:
        del os.environ[name]  # never the user's own database or connections
    os.environ["AIRFLOW_HOME"] = home
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = dag_folder
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    # Waiting operators and sensors default to deferrable, so dag.test() runs their triggers.
    os.environ["AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"] = "True"
    # As Airflow's DAG processor does: modules beside the DAGs are importable.
    sys.path.append(dag_folder)
    os.makedirs(home, exist_ok=True)
    log_path = os.path.join(home, "demo.log")
    with open(log_path, "a") as log:
        migrated = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], stdout=log, stderr=log)
    if migrated.returncode:
        raise SystemExit(f"airflow db migrate failed (exit {migrated.returncode}); see {log_path}")
    return log_path


def run_dag(dag, report) -> tuple[str, int, float]:
    """(final state, number of tasks, seconds) of one ``dag.test()``."""
    started = time.monotonic()
    try:
        run = dag.test()
        state = str(getattr(run, "state", "unknown"))
    except Exception as exc:  # a DAG that cannot even run is reported, not fatal to the demo
        print(f"dag.test() of {dag.dag_id} raised {exc!r}", file=report, flush=True)
        state = "error"
    return state, len(dag.tasks), time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dag_folder", nargs="?", default="example_dags")
    parser.add_argument("--airflow-home", default=".airflow-demo", help="Airflow home of the demo's own")
    args = parser.parse_args(argv)
    folder = os.path.abspath(args.dag_folder)
    log_path = prepare_airflow(folder, args.airflow_home)

    report = sys.stdout
    unexpected = 0
    # Airflow logs to whatever stdout is when it first logs: the log file, kept open to the end.
    with Sandbox(DEMO_CONFIG) as sandbox, open(log_path, "a") as log, \
            contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        os.environ.update(sandbox.connection_env())
        print(f"sandbox on {sandbox.url}; Airflow log in {log_path}", file=report, flush=True)
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=folder)
        for path, error in bag.import_errors.items():
            print(f"IMPORT ERROR {path}: {error}", file=report, flush=True)
            unexpected += 1
        if not bag.dags:
            print(f"no DAG found in {folder}", file=report, flush=True)
            unexpected += 1
        for dag_id in sorted(bag.dags):
            dag = bag.dags[dag_id]
            expected = "failed" if FAILURE_TAG in (dag.tags or ()) else "success"
            state, tasks, seconds = run_dag(dag, report)
            verdict = "as expected" if state == expected else f"UNEXPECTED, expected {expected}"
            if expected == "failed" and state == expected:
                verdict += " (demonstrates a failure path)"
            unexpected += state != expected
            line = f"{dag_id:<34} {tasks} task{'s' if tasks != 1 else ''}  {state:<8} {verdict}  {seconds:5.1f} s"
            print(line, file=report, flush=True)
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
