"""Whole DAGs under ``dag.test()`` against a sandbox, in a subprocess of their own (Airflow reads
its home and database once per process), reporting each DAG's final state and the requests the
sandbox served while it ran.

    result = run_dags(DAG_SOURCE, tmp_path)
    result.states["my_dag"] == "success"; result.requests["my_dag"] -> [(method, path), ...]
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class DagRuns:
    states: dict[str, str]
    requests: dict[str, list[tuple[str, str]]]
    logs: dict[str, str]  # Airflow's and the tasks' log lines while each DAG ran
    log: str  # the whole log

    def posts(self, dag_id: str, path_glob: str) -> list[str]:
        import fnmatch

        return [path for method, path in self.requests[dag_id] if method == "POST" and fnmatch.fnmatchcase(path, path_glob)]


def run_dags(source: str, tmp_path: Path, timeout: float = 600) -> DagRuns:
    folder, home, out = tmp_path / "dags", tmp_path / "home", tmp_path / "result.json"
    folder.mkdir()
    (folder / "dags_under_test.py").write_text(source)
    done = subprocess.run(
        [sys.executable, "-m", "tests.dag_runs", str(folder), str(home), str(out)],
        capture_output=True, text=True, env=os.environ, timeout=timeout, cwd=ROOT,
    )
    log_path = home / "dags.log"
    log = log_path.read_text() if log_path.exists() else ""
    if done.returncode or not out.exists():
        raise AssertionError(f"the DAG runner failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}\n{log[-4000:]}")
    result = json.loads(out.read_text())
    logs = {dag_id: log[start:end] for dag_id, (start, end) in result["log_spans"].items()}
    return DagRuns(result["states"], {k: [tuple(r) for r in v] for k, v in result["requests"].items()}, logs, log)


def main(folder: str, home: str, out: str) -> None:
    from airflow_provider_monitoring.sandbox.demo import DEMO_CONFIG, prepare_airflow, run_dag
    from airflow_provider_monitoring.sandbox.server import Sandbox

    log_path = prepare_airflow(folder, home)
    os.replace(log_path, Path(home) / "dags.log")
    states, requests, log_spans = {}, {}, {}
    with Sandbox(DEMO_CONFIG) as sandbox, open(Path(home) / "dags.log", "a") as log, \
            contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        os.environ.update(sandbox.connection_env())
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=folder)
        if bag.import_errors or not bag.dags:
            raise SystemExit(f"cannot load the DAGs: {bag.import_errors}")
        for dag_id in sorted(bag.dags):
            before, log_start = len(sandbox.requests()), _log_size(log)
            states[dag_id] = run_dag(bag.dags[dag_id], log)[0]
            requests[dag_id] = sandbox.requests()[before:]
            log_spans[dag_id] = (log_start, _log_size(log))
    Path(out).write_text(json.dumps({"states": states, "requests": requests, "log_spans": log_spans}))


def _log_size(log) -> int:
    """Characters written to the log so far (it is read back as text, so spans are in characters)."""
    import sys

    sys.stdout.flush()
    log.flush()
    return len(Path(log.name).read_text())


if __name__ == "__main__":
    main(*sys.argv[1:4])
