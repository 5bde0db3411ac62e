"""pytest plugin (registered through the ``pytest11`` entry point): test DAGs offline.

``monitoring_sandbox`` starts the sandbox on a free loopback port for one test and points the
default connections (``encrata_default``, ``diligent_default``, ``datafold_default``) at it.
Override ``monitoring_sandbox_config`` in a conftest to choose outcomes, durations and faults, or
change ``monitoring_sandbox.config`` during the test (rules are read when a run is created).
"""

from __future__ import annotations

from typing import Iterator

import pytest

from airflow_provider_monitoring.sandbox.core import SandboxConfig
from airflow_provider_monitoring.sandbox.server import Sandbox


@pytest.fixture
def monitoring_sandbox_config() -> SandboxConfig:
    return SandboxConfig(run_seconds=0.5)


@pytest.fixture
def monitoring_sandbox(monitoring_sandbox_config: SandboxConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    with Sandbox(monitoring_sandbox_config) as sandbox:
        for name, value in sandbox.connection_env().items():
            monkeypatch.setenv(name, value)
        yield sandbox
