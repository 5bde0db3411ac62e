"""The DAG processor imports hooks on every parse: that must stay cheap and do no I/O."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("vendor", ["encrata", "diligent", "datafold"])
def test_importing_a_hook_and_building_it_loads_no_http_library(vendor):
    code = (
        "import sys, importlib\n"
        f"module = importlib.import_module('airflow_provider_monitoring.hooks.{vendor}')\n"
        f"hook_class = next(v for k, v in vars(module).items() if k.lower() == '{vendor}hook')\n"
        "hook_class('no_such_connection')  # must not look the connection up\n"
        "print('requests' in sys.modules, 'aiohttp' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    assert out.stdout.split() == ["False", "False"]
