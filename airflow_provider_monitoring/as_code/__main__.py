"""``python -m airflow_provider_monitoring.as_code``: the same as the ``airflow-monitoring`` command."""

import sys

from airflow_provider_monitoring.as_code.cli import main

sys.exit(main())
