"""The fixed facts of each vendor API: connection facts (docs/design.md, "Connections") and the
documented enumerations. The hooks validate requests against them, the sandbox validates what it
is sent against them, and the provider info reads the hosts: each fact is written down once.
Nothing here imports Airflow, so the sandbox can use it without paying for Airflow's import."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_monitoring._http.settings import VendorSpec

ENCRATA = VendorSpec(
    name="Encrata",
    conn_type="encrata",
    default_conn_id="encrata_default",
    default_host="https://encrata.com",
    auth_header="Authorization",
    auth_scheme="Bearer",
)
DILIGENT = VendorSpec(
    name="Diligent",
    conn_type="diligent",
    default_conn_id="diligent_default",
    default_host="https://api.godiligent.ai",
    auth_header="X-API-KEY",
    auth_scheme="",
)
DATAFOLD = VendorSpec(
    name="Datafold",
    conn_type="datafold",
    default_conn_id="datafold_default",
    default_host="https://app.datafold.com",
    auth_header="Authorization",
    auth_scheme="Key",
)


# ---- Encrata (docs/vendors/encrata.md §4.2, §4.4, §11) --------------------------------------------------
ENCRATA_API_PREFIXES = ("/api", "/api/agent")
ENCRATA_MONITOR_TYPES = ("email", "phone", "domain", "ip", "company", "darkweb")
# The Create page lists four values; the List and Update pages say "monthly or quarterly" (§11.4).
ENCRATA_FREQUENCIES = ("weekly", "biweekly", "monthly", "quarterly")
ENCRATA_CHANGE_DETECTIONS = ("diff_only", "full_refresh")
ENCRATA_DATA_SOURCE_TYPES = ("csv", "list")
# What PATCH accepts; "failed" is a status the server reports, never one a user sets.
ENCRATA_SETTABLE_STATUSES = ("active", "paused")

# ---- Diligent (docs/vendors/diligent.md §1.5) ------------------------------------------------------------
DILIGENT_CHECKS = (
    "non_operational_website",
    "high_risk_mcc",
    "high_risk_diligent_classification",
    "catalog_contain_loan_flipping_indicators",
)
# The period of each frequency, in days.
DILIGENT_FREQUENCY_DAYS = {"weekly": 7, "every_2_weeks": 14, "every_3_weeks": 21, "every_4_weeks": 28}
# "id" is in the camelCase rendering and one snake_case rendering, not in OAS 1.6.0.
DILIGENT_BULK_LIMIT = 200  # one bulk-create request takes 1 to 200 monitorings (§4)
DILIGENT_SORT_BY = ("last_execution", "next_run", "state", "website", "id")
DILIGENT_SORT_DIRECTIONS = ("asc", "desc")

# ---- Datafold (docs/vendors/datafold.md §2) --------------------------------------------------------------
DATAFOLD_MONITOR_TYPES = ("diff", "metric", "test", "schema")
DATAFOLD_ORDER_BY_FIELDS = ("id", "name", "last_triggered", "last_run", "created_by")
DATAFOLD_SORT_ORDERS = ("asc", "desc")
DATAFOLD_DIFF_TYPES = ("indb", "inmem")
DATAFOLD_METRIC_KINDS = ("table", "column", "custom")
DATAFOLD_TABLE_METRICS = ("row_count", "freshness")
DATAFOLD_COLUMN_METRICS = (
    "minimum", "maximum", "std_dev", "cardinality", "uniqueness", "median", "average", "sum", "fill_rate",
)
DATAFOLD_METRIC_ALERT_TYPES = ("automatic", "absolute", "percentage")
DATAFOLD_STANDARD_TEST_TYPES = (
    "unique", "not_null", "accepted_values", "referential_integrity", "numeric_range", "custom_template",
)
DATAFOLD_NOTIFICATION_TYPES = ("email", "slack", "teams", "pagerduty", "webhook")


def monitor_url(base_url: str, monitor_id: Any) -> str:
    """A monitor's page in the vendor's UI, on the connection's own host. Datafold serves its app
    and API from one host (US, EU or dedicated) with monitors under /monitors; Encrata documents no
    dashboard URL scheme, but its dashboard lives on the API's host too (its key page is
    encrata.com/api-keys), so its monitors are linked the same way. A user name or password
    written into the connection's host is left out: the link goes to XCom, logs and asset events."""
    return f"{without_userinfo(base_url)}/monitors/{monitor_id}"


def without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` taken out of its host part."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])) if "@" in parts.netloc else url
