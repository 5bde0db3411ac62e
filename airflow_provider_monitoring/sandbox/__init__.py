"""Offline emulator of the Encrata, Diligent and Datafold APIs, served on 127.0.0.1.

For DAG development, demos and tests without accounts or network (the role moto plays for AWS).
Start it with ``airflow-monitoring-sandbox`` (or ``python -m airflow_provider_monitoring.sandbox``),
with ``Sandbox()`` in Python, or with the ``monitoring_sandbox`` pytest fixture.
"""

from airflow_provider_monitoring.sandbox.core import FaultRule, OutcomeRule, SandboxConfig
from airflow_provider_monitoring.sandbox.server import Sandbox

__all__ = ["FaultRule", "OutcomeRule", "Sandbox", "SandboxConfig"]
