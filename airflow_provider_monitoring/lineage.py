"""OpenLineage for the provider's gates: what a run of a monitor said, as lineage facets.

Every waiting operator and sensor keeps its run's ``MonitoringResult`` as ``self.monitoring_result``
(see ``airflow_provider_monitoring.results``). With the optional extra ``[openlineage]`` installed
(Airflow's OpenLineage provider), Airflow's listener asks the task for its facets when the task
succeeds or fails, and ``MonitoringLineageMixin`` answers from that result:

* Datafold: one input dataset per dataset the monitor watches, carrying a ``dataQualityAssertions``
  facet (one assertion per finding about that dataset);
* Encrata and Diligent: the monitor as an input dataset, and a ``test`` run facet (one test per
  finding);
* all three: a ``monitoringResult`` run facet with the result's summary.

README.md, "Lineage (OpenLineage)", says how datasets are named and how findings map. Importing
this module costs the standard library only: every OpenLineage import happens inside the functions
that build facets, so without the extra nothing is imported and nothing fails.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from airflow_provider_monitoring import DOCUMENTATION_URL, __version__
from airflow_provider_monitoring._vendors import without_userinfo
from airflow_provider_monitoring.assets import conn_host, monitor_path
from airflow_provider_monitoring.results import Finding, MonitoringResult, WatchedDataset

__all__ = [
    "ASSERTIONS_FACET", "SUMMARY_FACET", "TEST_FACET", "MonitoringLineageMixin", "datafold_inputs",
    "dataset_namespace", "finding_as_assertion", "finding_as_test", "lineage_of", "monitor_dataset", "summary_facet",
]

# The facet keys: the first two are the ones OpenLineage's spec and Airflow's SQL check operators use.
ASSERTIONS_FACET = "dataQualityAssertions"
TEST_FACET = "test"
SUMMARY_FACET = "monitoringResult"

# The summary facet's producer and schema: this provider's release, and the README section that
# lists the facet's fields (no JSON schema is published for it).
FACET_PRODUCER = f"{DOCUMENTATION_URL}{__version__}/"
SUMMARY_FACET_SCHEMA_URL = f"{DOCUMENTATION_URL}{__version__}/#lineage-openlineage"

# OpenLineage's test statuses are pass / fail / skip. A changed value (Encrata) is something the
# monitor found, so it reads as fail; "unknown" (the vendor does not tell) has no OpenLineage word
# and is passed on as is. The provider's own status always goes along in ``params``.
TEST_STATUS = {"passed": "pass", "failed": "fail", "changed": "fail", "unknown": "unknown"}
# OpenLineage (and dbt) say "warn" where the provider says "warning".
SEVERITY = {"error": "error", "warning": "warn", "info": "info"}
# What a finding may carry beyond the fields that have a place of their own in a facet.
FINDING_DETAILS = ("target", "field", "old", "new", "check", "table", "column")


class MonitoringLineageMixin:
    """Gives a waiting task the methods Airflow's OpenLineage listener calls when the task ends.

    Both build the facets from ``self.monitoring_result`` (None: no run was read, nothing to
    report). They return None when the OpenLineage provider or client cannot be imported or is
    older than the ``[openlineage]`` extra asks; the listener then sends its event without them.
    """

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The lineage of a task that succeeded (or skipped on an alert).

        :param task_instance: The task instance, as the listener passes it (unused: the result is
            on the task).
        """
        return self._monitoring_lineage()

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """The lineage of a task that failed: the same facets, so the failed assertions travel too.

        :param task_instance: The task instance, as the listener passes it (unused).
        """
        return self._monitoring_lineage()

    def _monitoring_lineage(self) -> Any:
        result = getattr(self, "monitoring_result", None)
        if result is None:
            return None
        try:
            return lineage_of(result, self._lineage_api_url(result))
        except ImportError as exc:
            log = self.log  # type: ignore[attr-defined]  # the operator's
            log.debug("OpenLineage facets left out, OpenLineage cannot be imported: %s", exc)
            return None

    def _lineage_api_url(self, result: MonitoringResult) -> str:
        """Where the vendor's API lives: the monitor's link carries the connection's host; only a
        result without one costs a read of the connection."""
        return result.get("url") or self.make_hook().settings.base_url  # type: ignore[attr-defined]


def lineage_of(result: MonitoringResult, api_url: str) -> Any:
    """The ``OperatorLineage`` of one monitoring result.

    :param result: What the task kept as ``monitoring_result``.
    :param api_url: Any URL on the vendor API's host (the monitor's link, the connection's base URL):
        only its host and port name the datasets.
    :raises ImportError: The OpenLineage provider, or a client recent enough, is not installed.
    """
    from airflow.providers.openlineage.extractors import OperatorLineage

    host = conn_host(api_url)
    run_facets: dict[str, Any] = {SUMMARY_FACET: summary_facet(result)}
    if result["vendor"] == "datafold":
        inputs, unattached = datafold_inputs(result, host)
    else:
        inputs, unattached = [monitor_dataset(result["vendor"], host, result["monitor_id"])], result["findings"]
    if unattached:
        from openlineage.client.facet_v2 import test_run

        run_facets[TEST_FACET] = test_run.TestRunFacet(tests=[finding_as_test(f) for f in unattached])
    return OperatorLineage(inputs=inputs, run_facets=run_facets)


def dataset_namespace(vendor: str, host: str, data_source: int | None = None) -> str:
    """``<vendor>://<host>``, and for a Datafold data source ``.../data-sources/<id>``: Datafold's
    API names the data source, never the warehouse behind it.

    :param vendor: ``encrata``, ``diligent`` or ``datafold``.
    :param host: The API's ``host[:port]``.
    :param data_source: The Datafold data source id (``connection_id``), if any.
    """
    base = f"{vendor}://{host}"
    return base if data_source is None else f"{base}/data-sources/{data_source}"


def monitor_dataset(vendor: str, host: str, monitor_id: str) -> Any:
    """The monitor as an input dataset: ``<vendor>://<host>``, ``monitors/<id>`` (Diligent:
    ``monitorings/<id>``), as its asset URI names it.

    :param vendor: The vendor's name in lower case.
    :param host: The API's ``host[:port]``.
    :param monitor_id: The monitor (the Diligent monitoring).
    """
    from openlineage.client.event_v2 import InputDataset

    return InputDataset(namespace=dataset_namespace(vendor, host), name=monitor_path(vendor, monitor_id))


def datafold_inputs(result: MonitoringResult, host: str) -> tuple[list[Any], list[Finding]]:
    """The datasets a Datafold monitor watches, each with the assertions about it, and the findings
    that name a table the monitor does not watch (they go to the run's test facet). A finding that
    names no table is about everything the monitor compares, so each dataset gets it.

    :param result: A Datafold ``MonitoringResult``.
    :param host: The API's ``host[:port]``.
    """
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.facet_v2 import data_quality_assertions_dataset as dqa

    watched = result.get("datasets") or []
    if not watched:
        return [], list(result["findings"])
    assertions: list[list[Any]] = [[] for _ in watched]
    unattached = []
    for finding in result["findings"]:
        about = [i for i, dataset in enumerate(watched) if _is_about(finding, dataset)]
        for i in about:
            assertions[i].append(finding_as_assertion(finding, watched[i]))
        if not about:
            unattached.append(finding)
    inputs = []
    for dataset, its_assertions in zip(watched, assertions):
        facets = {ASSERTIONS_FACET: dqa.DataQualityAssertionsDatasetFacet(assertions=its_assertions)}
        inputs.append(InputDataset(
            namespace=dataset_namespace("datafold", host, dataset["connection_id"]),
            name=dataset["table"] or f"monitors/{result['monitor_id']}/query",
            inputFacets=facets if its_assertions else {},
        ))
    return inputs, unattached


def _is_about(finding: Finding, dataset: WatchedDataset) -> bool:
    """Whether a finding is about a watched dataset: it names no table, the same table, or the
    table's last parts (``ORDERS`` or ``SALES.ORDERS`` for ``PROD.SALES.ORDERS``), in any case."""
    table = (finding.get("table") or "").lower()
    if not table:
        return True
    watched = (dataset["table"] or "").lower()
    return watched == table or watched.endswith(f".{table}")


def finding_as_assertion(finding: Finding, dataset: WatchedDataset | None = None) -> Any:
    """One finding as an OpenLineage ``Assertion``: succeeded when the finding passed; the column
    the finding names, else the column the dataset watches.

    :param finding: A finding of the result.
    :param dataset: The watched dataset the assertion goes on, if any.
    """
    from openlineage.client.facet_v2 import data_quality_assertions_dataset as dqa

    return dqa.Assertion(
        assertion=finding.get("check") or finding["name"],
        success=finding["status"] == "passed",
        column=finding.get("column") or (dataset or {}).get("column"),
        severity=SEVERITY.get(finding["severity"], finding["severity"]),
        name=finding["name"],
        description=finding["message"],
        expected=_as_text(finding.get("expected")),
        actual=_as_text(finding.get("actual")),
        params={"status": finding["status"]},
    )


def finding_as_test(finding: Finding) -> Any:
    """One finding as an OpenLineage ``TestExecution`` (see ``TEST_STATUS``); what has no field of
    its own (target, field, old and new values, check, table, column) goes in ``params``.

    :param finding: A finding of the result.
    """
    from openlineage.client.facet_v2 import test_run

    details = {key: finding[key] for key in FINDING_DETAILS if finding.get(key) is not None}
    return test_run.TestExecution(
        name=finding["name"],
        status=TEST_STATUS.get(finding["status"], finding["status"]),
        severity=SEVERITY.get(finding["severity"], finding["severity"]),
        type=finding.get("check") or finding["name"],
        description=finding["message"],
        expected=_as_text(finding.get("expected")),
        actual=_as_text(finding.get("actual")),
        params={"status": finding["status"], **details},
    )


def summary_facet(result: MonitoringResult) -> Any:
    """The ``monitoringResult`` run facet: how the run ended, where to see it, how many findings.

    :param result: The task's ``MonitoringResult``.
    """
    return _summary_facet_class()(
        vendor=result["vendor"],
        monitorId=result["monitor_id"],
        runId=result["run_id"],
        outcome=result["outcome"],
        vendorState=result["vendor_state"],
        startedAt=result["started_at"],
        finishedAt=result["finished_at"],
        url=without_userinfo(result["url"]) if result["url"] else None,
        message=result["message"],
        counts=dict(result["counts"]),
        findingsError=result.get("findings_error"),
    )


def _as_text(value: Any) -> str | None:
    """An expected or actual value as the facets want it, a string: text as is, the rest as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


@functools.cache
def _summary_facet_class() -> type:
    """The ``monitoringResult`` facet class (``MonitoringResultRunFacet``), defined once, on first
    use, since it subclasses the OpenLineage client's ``RunFacet``."""
    import attr
    from openlineage.client.facet_v2 import RunFacet

    @attr.define
    class MonitoringResultRunFacet(RunFacet):
        """How a monitoring run ended (fields as in ``MonitoringResult``, in camelCase)."""

        vendor: str
        monitorId: str  # noqa: N815 - OpenLineage facets are camelCase
        runId: str | None  # noqa: N815
        outcome: str
        vendorState: str | None  # noqa: N815
        startedAt: str | None  # noqa: N815
        finishedAt: str | None  # noqa: N815
        url: str | None
        message: str
        counts: dict[str, int]
        findingsError: str | None = None  # noqa: N815
        _producer: str = attr.field(default=FACET_PRODUCER, kw_only=True)

        @staticmethod
        def _get_schema() -> str:
            return SUMMARY_FACET_SCHEMA_URL

    # Named as this module's attribute, so pickle and repr find it where __getattr__ serves it.
    MonitoringResultRunFacet.__module__ = __name__
    MonitoringResultRunFacet.__qualname__ = "MonitoringResultRunFacet"
    return MonitoringResultRunFacet


def __getattr__(name: str) -> Any:
    # The facet class imports the OpenLineage client, so it is made when first asked for.
    if name == "MonitoringResultRunFacet":
        return _summary_facet_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
