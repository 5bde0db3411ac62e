"""The fixed facts of each vendor API (DESIGN.md, "Connections"), shared by the hooks and the
provider info so that a default host or header is written down once."""

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
