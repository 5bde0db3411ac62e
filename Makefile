# The two commands of the README. Each builds what it needs from a fresh clone: a virtual
# environment in .venv with the pinned dependencies of constraints.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Airflow writes its config and sqlite database under AIRFLOW_HOME; keep them inside the checkout.
export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__LOAD_EXAMPLES := False

.PHONY: test demo airflow airflow-stop lock clean

test: $(VENV)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(VENV)/.installed
	$(BIN)/python -m airflow_provider_monitoring.sandbox.demo example_dags --airflow-home .airflow/demo

# A real Airflow (scheduler, triggerer, dag-processor, API server) on the sandbox, to explore in a
# browser; Ctrl-C or `make airflow-stop` stops every process it started.
airflow: $(VENV)/.installed
	$(BIN)/python -m airflow_provider_monitoring.sandbox.stack example_dags --home .airflow/stack

airflow-stop:
	$(BIN)/python -m airflow_provider_monitoring.sandbox.stack stop --home .airflow/stack

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

# Re-pin every dependency after changing pyproject.toml (needs the package registry).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade "pip>=24"
	.lock-venv/bin/pip install --quiet -e ".[test]"
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^airflow-provider-monitoring' > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .airflow .pytest_cache
