"""Where the example DAGs write: example_encrata's export goes under the Airflow home of the process
that runs the task, one folder per run, decided at run time; no example writes to the temp dir."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "example_dags"
RUN_ID = "manual__2026-01-01T00:00:00.123456+00:00"


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"apm_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_encrata_export_goes_under_the_airflow_home_of_the_running_task(tmp_path, monkeypatch):
    parse_home, run_home = tmp_path / "parse-home", tmp_path / "run-home"
    monkeypatch.setenv("AIRFLOW_HOME", str(parse_home))
    example = load_example("example_encrata")
    dag = example.example_encrata()
    assert not (parse_home / "monitoring-exports").exists()  # parsing the file makes no folder

    # The export task's path is a template: rendered when the task runs, with the runner's home.
    monkeypatch.setenv("AIRFLOW_HOME", str(run_home))
    template = dag.get_task("export_results").output_path
    rendered = dag.get_template_env().from_string(template).render(dag=dag, run_id=RUN_ID)

    folder = run_home / "monitoring-exports" / "example_encrata" / "manual__2026-01-01T00_00_00.123456_00_00"
    assert rendered == f"file://{folder}/results.jsonl"
    assert folder.is_dir()  # made, so the export can open its file there
    assert not (parse_home / "monitoring-exports").exists()


def test_encrata_export_home_defaults_to_airflow_default(tmp_path, monkeypatch):
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    example = load_example("example_encrata")
    path = example.export_path("example_encrata", RUN_ID, "results.jsonl")
    assert path.startswith(f"file://{tmp_path}/airflow/monitoring-exports/example_encrata/")


def test_no_example_writes_to_the_temp_dir():
    for source in EXAMPLES.glob("*.py"):
        text = source.read_text()
        assert not re.search(r"tempfile|gettempdir|/tmp\b", text), source.name
