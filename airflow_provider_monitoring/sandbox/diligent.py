"""Emulator of the Diligent (godiligent.ai) monitoring API, served under ``/diligent``.

Follows the API notes (docs/vendors/diligent.md; the § numbers in this module refer to them):
monitorings, executions scheduled and run lazily from timestamps (no background task), alerts,
cursor pages, and the older camelCase generation switched on in state. What it serves, the choices
it makes where the notes say unknown, its state and what it leaves out: docs/sandbox.md, "Diligent".
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from airflow_provider_monitoring._vendors import (
    DILIGENT_BULK_LIMIT as BULK_LIMIT,
    DILIGENT_CHECKS as CHECKS,
    DILIGENT_FREQUENCY_DAYS as FREQUENCY_DAYS,
    DILIGENT_SORT_BY as SORT_BY,
    DILIGENT_SORT_DIRECTIONS,
)
from airflow_provider_monitoring.sandbox.core import (
    ApiFailure, Route, RunChoice, VendorApp, epoch_seconds, iso_of_ms, json_reply, one_of,
)

DAY_MS = 86_400_000
MAX_WINDOW_MS = 60 * DAY_MS
DEFAULT_WINDOW_MS = 30 * DAY_MS
DEFAULT_LIFETIME_MS = 183 * DAY_MS  # "creation + 6 months" (§3)
CATCH_UP_LIMIT = 100  # scheduled runs materialised per monitoring per read, so a stale seed stays cheap
CAMEL_PREFIX = "camel:"
FAILED_OUTCOMES = ("failed", "error")
EXPLANATIONS = {
    "non_operational_website": "No Website Data found",
    "high_risk_mcc": "The merchant category code is on the high-risk list",
    "high_risk_diligent_classification": "Diligent classifies the merchant as high risk",
    "catalog_contain_loan_flipping_indicators": "The catalog shows loan-flipping indicators",
}
# Names of the query parameters in each generation (§1.6); index 0 snake, index 1 camel.
PARAMS = {
    "page_size": ("page_size", "pageSize"),
    "sort_by": ("sort_by", "sortBy"),
    "sort_direction": ("sort_direction", "sortDirection"),
    "only_unacknowledged": ("only_unacknowledged", "onlyUnacknowledged"),
    "execution_time_after": ("execution_time_after", "executionTime_after"),
    "execution_time_before": ("execution_time_before", "executionTime_before"),
}


def issue(path: list[Any], message: str, code: str) -> dict[str, Any]:
    """One entry of the 400 ``{"errors": [...]}`` answer (a list detail renders that way)."""
    return {"path": path, "message": message, "code": code}


# ---- time ------------------------------------------------------------------------------------


def iso_s(ms: int | None) -> str | None:
    """Monitoring timestamps, as the monitoring samples: seconds, ``Z`` (§2)."""
    return iso_of_ms(ms)


def iso_ms(ms: int | None) -> str | None:
    """Run and alert timestamps, as their samples: milliseconds, ``Z`` (§2). Integer ms are kept
    in state so the rendered string and the filters compare exactly."""
    return iso_of_ms(ms, millis=True)


def parse_ms(text: Any) -> int | None:
    """Epoch ms of an ISO 8601 string (``Z`` or offset, with or without fraction); None if unusable."""
    seconds = epoch_seconds(text)
    return None if seconds is None else round(seconds * 1000)


# ---- websites --------------------------------------------------------------------------------


def sanitise(website: str) -> str | None:
    """The stored form of a website (§2: "it is sanitised"), or None when it is not an http(s) URL."""
    try:
        parts = urlsplit(website.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    netloc = host if port is None else f"{host}:{port}"
    path = "" if parts.path == "/" else parts.path
    return f"{parts.scheme.lower()}://{netloc}{path}" + (f"?{parts.query}" if parts.query else "")


def site_key(website: str) -> str:
    """What makes two websites the same site for duplicates and the ``website`` filter."""
    stored = sanitise(website) or website.strip().lower()
    return stored.split("://", 1)[-1].rstrip("/")


def unsafe_host(website: str) -> bool:
    """The "security checks" of §3: no loopback, private or link-local targets."""
    host = urlsplit(website).hostname or ""
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local or address.is_reserved


# ---- request validation (Zod-like issues) ------------------------------------------------------


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def expect(value: Any, kind: str, path: list[Any]) -> dict | None:
    if json_type(value) == kind:
        return None
    message = "Required" if value is None else f"Expected {kind}, received {json_type(value)}"
    return issue(path, message, "invalid_type")


def check_website(item: dict, path: list[Any]) -> list[dict]:
    found = expect(item.get("website"), "string", path + ["website"])
    if found:
        return [found]
    return [] if sanitise(item["website"]) else [issue(path + ["website"], "Invalid url", "invalid_string")]


def check_checks(item: dict, path: list[Any]) -> list[dict]:
    checks = item.get("checks")
    found = expect(checks, "array", path + ["checks"])
    if found:
        return [found]
    if not checks:
        return [issue(path + ["checks"], "Array must contain at least 1 element(s)", "too_small")]
    expected = " | ".join(f"'{name}'" for name in CHECKS)
    issues = [
        issue(path + ["checks", index], f"Invalid enum value. Expected {expected}, received '{check}'",
              "invalid_enum_value")
        for index, check in enumerate(checks)
        if check not in CHECKS
    ]
    if not issues and len(set(checks)) != len(checks):
        issues.append(issue(path + ["checks"], "Duplicate checks are not allowed", "custom"))
    return issues


def check_frequency(item: dict, path: list[Any]) -> list[dict]:
    if "frequency" not in item:  # documented default (§1.5) although also marked required
        return []
    found = expect(item["frequency"], "string", path + ["frequency"])
    if found:
        return [found]
    if item["frequency"].lower() in FREQUENCY_DAYS:  # case-insensitive on input (§1.5)
        return []
    expected = " | ".join(f"'{name}'" for name in FREQUENCY_DAYS)
    message = f"Invalid enum value. Expected {expected}, received '{item['frequency']}'"
    return [issue(path + ["frequency"], message, "invalid_enum_value")]


def check_flags(item: dict, path: list[Any]) -> list[dict]:
    found = [expect(item[name], "boolean", path + [name])
             for name in ("run_now", "skip_duplicate") if item.get(name) is not None]
    if item.get("external_id") is not None:
        found.append(expect(item["external_id"], "string", path + ["external_id"]))
    return [one for one in found if one]


def check_expires_at(item: dict, path: list[Any], now: int) -> list[dict]:
    if item.get("expires_at") is None:
        return []
    where = path + ["expires_at"]
    found = expect(item["expires_at"], "string", where)
    if found:
        return [found]
    moment = parse_ms(item["expires_at"])
    if moment is None:
        return [issue(where, "Invalid datetime", "invalid_string")]
    if moment <= now:
        return [issue(where, "expires_at must be in the future", "custom")]
    frequency = str(item.get("frequency") or "every_2_weeks").lower()
    days = FREQUENCY_DAYS.get(frequency, 14)
    if moment < now + days * DAY_MS:
        return [issue(where, f"expires_at must be at least {days} days ahead for frequency {frequency}", "custom")]
    return []


def monitoring_issues(item: Any, path: list[Any], now: int) -> list[dict]:
    if not isinstance(item, dict):
        return [expect(item, "object", path) or issue(path, "Expected object", "invalid_type")]
    return (
        check_website(item, path) + check_checks(item, path) + check_frequency(item, path)
        + check_flags(item, path) + check_expires_at(item, path, now)
    )


def normalised(item: dict) -> dict[str, Any]:
    """A validated request item with its defaults filled in."""
    return {
        "website": sanitise(item["website"]),
        "checks": list(item["checks"]),
        "frequency": str(item.get("frequency") or "every_2_weeks").lower(),
        "run_now": item.get("run_now") is not False,  # default true (§3)
        "expires_at": parse_ms(item.get("expires_at")),
        "external_id": item.get("external_id"),
        "skip_duplicate": item.get("skip_duplicate") is True,
    }


# ---- request parsing ----------------------------------------------------------------------------


def bulk_specs(body: Any, now: int) -> list[dict]:
    if not isinstance(body, list):
        raise ApiFailure(400, [expect(body, "array", []) or issue([], "Expected array", "invalid_type")])
    if not 1 <= len(body) <= BULK_LIMIT:
        code, bound = ("too_small", "at least 1") if not body else ("too_big", f"at most {BULK_LIMIT}")
        raise ApiFailure(400, [issue([], f"Array must contain {bound} element(s)", code)])
    issues = [found for index, item in enumerate(body) for found in monitoring_issues(item, [index], now)]
    if issues:
        raise ApiFailure(400, issues)
    specs = [normalised(item) for item in body]
    unsafe = [index for index, spec in enumerate(specs) if unsafe_host(spec["website"])]
    if unsafe:
        invalid = [{"website": specs[i]["website"], "index": i} for i in unsafe]
        raise ApiFailure(400, "URL validation failed", invalid=invalid)
    return specs


def execution_window(request: web.Request, now: int) -> tuple[int, int]:
    """[from, to] in ms: to defaults to now, from to 30 days before to; at most 60 days (§8)."""
    raw_from, raw_to = request.query.get("from"), request.query.get("to")
    end = now if raw_to is None else parse_ms(raw_to)
    if end is None:
        raise ApiFailure(400, "to must be an ISO 8601 date-time")
    start = end - DEFAULT_WINDOW_MS if raw_from is None else parse_ms(raw_from)
    if start is None:
        raise ApiFailure(400, "from must be an ISO 8601 date-time")
    if start > end:
        raise ApiFailure(400, "from must be before to")
    if end - start > MAX_WINDOW_MS:
        raise ApiFailure(400, "The time window between from and to cannot exceed 60 days")
    return start, end


def page_size(name: str, raw: str | None, errors_shape: bool = False) -> int:
    if raw is None:
        return 10
    if raw.strip().isdigit() and 1 <= int(raw) <= 100:
        return int(raw)
    message = f"{name} must be a positive integer between 1 and 100"
    raise ApiFailure(400, [issue([name], message, "invalid_type")] if errors_shape else message)


def bool_param(name: str, raw: str | None) -> bool | None:
    """OAS types these as the strings "true"/"false" (§9)."""
    if raw is None:
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    message = f"Invalid enum value. Expected 'true' | 'false', received '{raw}'"
    raise ApiFailure(400, [issue([name], message, "invalid_enum_value")])


def time_param(name: str, raw: str | None) -> int | None:
    if raw is None:
        return None
    moment = parse_ms(raw)
    if moment is None:
        raise ApiFailure(400, [issue([name], "Invalid datetime", "invalid_string")])
    return moment


def ack_target(body: Any, id_name: str) -> tuple[str | None, bool]:
    """(alert id, all): exactly one of them (§10)."""
    if not isinstance(body, dict):
        raise ApiFailure(400, "Request body must be a JSON object")
    alert_id = body.get(id_name, body.get("alert_id"))
    everything = body.get("all")
    if (alert_id is None) == (everything is None) or everything is False:
        raise ApiFailure(400, f"Either {id_name} OR all must be provided, but not both")
    if everything is not None and everything is not True:
        raise ApiFailure(400, "all must be a boolean")
    if alert_id is not None and (not isinstance(alert_id, str) or not alert_id.strip()):
        raise ApiFailure(400, f"{id_name} must be a non-empty string")
    return alert_id, everything is True


# ---- cursors and sort keys --------------------------------------------------------------------


def encode_token(customer_id: str, key: tuple[str, ...]) -> str:
    document = {"customerId": {"S": customer_id}, "sortKey": {"L": [{"S": part} for part in key]}}
    return base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()


def decode_token(customer_id: str, token: str) -> tuple[str, ...]:
    try:
        document = json.loads(base64.b64decode(token, validate=True))
        assert document["customerId"]["S"] == customer_id
        return tuple(str(part["S"]) for part in document["sortKey"]["L"])
    except (binascii.Error, ValueError, KeyError, TypeError, AssertionError):
        raise ApiFailure(400, "Invalid next_token") from None


def paginate(customer_id: str, rows: list[dict], key: Callable[[dict], tuple[str, ...]], descending: bool,
             size: int, token: str | None) -> tuple[list[dict], str | None]:
    """Keyset pages: the token names the last item's sort key, so inserts do not shift pages."""
    ordered = sorted(rows, key=key, reverse=descending)
    if token is not None:
        after = decode_token(customer_id, token)
        ordered = [row for row in ordered if (key(row) < after if descending else key(row) > after)]
    page = ordered[:size]
    return page, encode_token(customer_id, key(page[-1])) if len(ordered) > size else None


def time_key(row: dict) -> tuple[str, str]:
    # Zero-padded ms: ordered like the times, and far cheaper than formatting every row.
    return f"{row['execution_time']:015d}", row["id"]


def monitoring_sort_key(sort_by: str, row: dict) -> tuple[str, str]:
    """Strings only, so the key fits in a cursor; times as zero-padded ms compare in time order,
    and a monitoring that never ran sorts as the oldest."""
    monitoring = row["monitoring"]
    if sort_by == "last_execution":
        value = "" if row["last_ms"] is None else f"{row['last_ms']:015d}"
    elif sort_by == "next_run":
        value = f"{row['pending_ms'] or monitoring['next_start']:015d}"
    elif sort_by == "state":
        value = row["running_state"]
    else:
        value = monitoring[sort_by]  # website or id
    return value, monitoring["id"]


# ---- the emulator -----------------------------------------------------------------------------


class DiligentApp(VendorApp):
    """Handlers over ``context.state["diligent"]`` (times in epoch ms); no background task."""

    vendor = "diligent"
    key_header = "X-API-KEY"
    tables = ("settings", "monitorings", "executions", "alerts")
    monitor_table = "monitorings"
    control_fields = (*VendorApp.control_fields, "website", "checks", "alerts")

    def routes(self) -> list[Route]:
        return [
            ("POST", "/monitorings", self.create_monitoring),
            ("POST", "/monitorings/bulk-create", self.bulk_create),
            ("GET", "/monitorings", self.list_monitorings),
            ("DELETE", "/monitorings/{id}/deactivate", self.deactivate),
            ("GET", "/monitoring-executions", self.list_executions),
            ("GET", "/monitoring-alerts", self.list_alerts),
            ("POST", "/monitoring-alerts/acknowledge", self.acknowledge),
        ]

    # ---- auth and errors: {"error": ...}, schema validation {"errors": [...]}

    def refusal(self, request: web.Request, header: str | None) -> ApiFailure:
        return ApiFailure(401, "Missing API key" if header is None else "Invalid API key")

    def error_body(self, request: web.Request, failure: ApiFailure) -> dict:
        if isinstance(failure.detail, list):
            return {"errors": failure.detail}
        return {"error": failure.detail, **failure.extra}

    def body_failure(self, error: ValueError | None) -> ApiFailure:
        return ApiFailure(400, "Request body must be valid JSON")  # an empty body too

    # ---- state and settings

    @property
    def store(self) -> dict[str, Any]:
        store = super().store
        if "customer_id" not in store:  # one customer per sandbox, made up once and kept
            store["customer_id"] = self.context.uuid()
        return store

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def setting(self, name: str, default: str) -> str:
        return self.store["settings"].get(name, default)

    @property
    def camel(self) -> bool:
        return self.setting("rendering", "snake") == "camel"

    def query(self, request: web.Request, name: str) -> tuple[str, str | None]:
        """(the name the emulated generation gives a query parameter (§1.6), its value)."""
        names = PARAMS.get(name)
        wire_name = names[1 if self.camel else 0] if names else name
        return wire_name, request.query.get(wire_name)

    # ---- runs

    def monitor_keys(self, monitor: dict) -> tuple:
        return monitor["id"], monitor["website"], monitor.get("external_id")

    def schedulable(self, monitor: dict) -> bool:
        return self.is_active(monitor, self.now_ms())

    def start_run(self, monitor: dict, choice: RunChoice | None = None) -> dict:
        return self.queue_run(monitor, self.now_ms(), choice)

    def run_answer(self, monitor: dict, run: dict) -> dict:
        seconds = (run["execution_time"] - run["started_at"]) / 1000
        return self.control_answer(monitor["id"], run["id"], run["outcome"], run["started_at"] / 1000, seconds,
                            website=monitor["website"], alert_ids=list(run["alert_ids"]))

    def control_monitor(self, fields: dict) -> dict:
        """The active monitoring a control request names by ``monitor_id``, or by ``website``: its
        active monitoring, else one created as ``POST /monitorings`` would (with ``checks``, by default
        every check), without a first run: the request starts that."""
        if ("monitor_id" in fields) == ("website" in fields):
            raise ApiFailure(400, "give either monitor_id or website")
        now = self.now_ms()
        if "monitor_id" in fields:
            if "checks" in fields:
                raise ApiFailure(400, "checks are for a monitoring created by website; this one has its own")
            monitoring = super().control_monitor(fields)
            if not self.is_active(monitoring, now):
                raise ApiFailure(409, f"monitoring {monitoring['id']} is deactivated or expired: it runs no more")
            return monitoring
        website = fields["website"]
        existing = self.active_duplicate(website, now) if isinstance(website, str) else None
        if existing is not None:
            return existing
        spec = self.valid_spec({"website": website, "checks": fields.get("checks", list(CHECKS)), "run_now": False}, now)
        return self.create(spec, now)

    def queue_run(self, monitoring: dict, started: int, choice: RunChoice | None = None) -> dict:
        """A run whose outcome and duration are decided now: what ``choice`` fixes, the outcome rules
        the rest. An ``alert`` run raises ``choice.alerts`` alerts, one unless told otherwise."""
        outcome, seconds = self.outcome(monitoring, choice)
        run = {
            "id": self.context.uuid(), "monitoring_id": monitoring["id"], "started_at": started,
            "execution_time": started + int(seconds * 1000), "outcome": outcome, "alert_ids": [],
        }
        if outcome == "alert":
            alerts = choice.alerts if choice and choice.alerts else 1
            run["alert_ids"] = [self.raise_alert(monitoring, run) for _ in range(alerts)]
        self.store["executions"][run["id"]] = run
        monitoring["run_ids"].append(run["id"])
        return run

    def raise_alert(self, monitoring: dict, run: dict) -> str:
        alert_id = self.context.uuid()
        self.store["alerts"][alert_id] = {
            "id": alert_id, "monitoring_id": monitoring["id"], "execution_result_id": run["id"],
            "website": monitoring["website"], "external_id": monitoring.get("external_id"),
            "checks": list(monitoring["checks"]), "execution_time": run["execution_time"],
            # The variant is fixed when the alert is raised, as a stored rendering would be.
            "camel": str(monitoring.get("external_id") or "").startswith(CAMEL_PREFIX),
            "acknowledged_at": None,
        }
        return alert_id

    def catch_up(self) -> None:
        """Queue the scheduled runs that fell due since the last read (no background task)."""
        now, changed = self.now_ms(), False
        for monitoring in self.store["monitorings"].values():
            if monitoring["next_start"] > now:  # the common case: nothing due, decided cheaply
                continue
            period = FREQUENCY_DAYS[monitoring["frequency"]] * DAY_MS
            for _ in range(CATCH_UP_LIMIT):
                due = monitoring["next_start"]
                if not monitoring["is_active"] or due > now or due >= monitoring["expires_at"]:
                    break
                self.queue_run(monitoring, due)
                monitoring["next_start"] = due + period
                changed = True
        if changed:
            self.context.saved()

    def listed_runs(self, now: int) -> list[dict]:
        """Finished runs that produced a result (a failed run lists nothing)."""
        return [run for run in self.store["executions"].values()
                if run["execution_time"] <= now and run["outcome"] not in FAILED_OUTCOMES]

    def visible_alerts(self, now: int) -> list[dict]:
        return [alert for alert in self.store["alerts"].values() if alert["execution_time"] <= now]

    # ---- monitorings

    def create(self, spec: dict[str, Any], now: int) -> dict:
        period = FREQUENCY_DAYS[spec["frequency"]] * DAY_MS
        monitoring = {
            "id": self.context.uuid(), "website": spec["website"], "checks": spec["checks"],
            "frequency": spec["frequency"], "is_active": True,
            "expires_at": spec["expires_at"] or now + DEFAULT_LIFETIME_MS,
            "created_at": now, "updated_at": now, "external_id": spec["external_id"],
            "next_start": now + period, "run_ids": [],
        }
        self.store["monitorings"][monitoring["id"]] = monitoring
        if spec["run_now"]:
            self.queue_run(monitoring, now)
        return monitoring

    def is_active(self, monitoring: dict, now: int) -> bool:
        return monitoring["is_active"] and now < monitoring["expires_at"]

    def active_duplicate(self, website: str, now: int) -> dict | None:
        key = site_key(website)
        for monitoring in self.store["monitorings"].values():
            if self.is_active(monitoring, now) and site_key(monitoring["website"]) == key:
                return monitoring
        return None

    def duplicates(self, specs: list[dict], now: int) -> list[dict]:
        """Items repeating an earlier item of the request, or an active monitoring (§4)."""
        seen: set[str] = set()
        duplicates = []
        for index, spec in enumerate(specs):
            key = site_key(spec["website"])
            if key in seen or self.active_duplicate(spec["website"], now) is not None:
                duplicates.append({"website": spec["website"], "index": index})
            seen.add(key)
        return duplicates

    def status(self, monitoring: dict, now: int, executions: dict | None = None) -> dict[str, Any]:
        """What time changes about a monitoring, computed from its runs' timestamps in one pass
        (a listing computes it for every monitoring, then filters, sorts and renders one page)."""
        executions = self.store["executions"] if executions is None else executions
        latest, pending = None, None
        for run_id in monitoring["run_ids"]:
            run = executions.get(run_id)
            if run is None:
                continue
            moment = run["execution_time"]
            if moment > now:
                pending = moment if pending is None else min(pending, moment)
            elif latest is None or moment > latest["execution_time"]:
                latest = run
        if pending is not None:
            state = "RUNNING"
        else:
            state = "FAILED" if latest and latest["outcome"] in FAILED_OUTCOMES else "IDLE"
        return {
            "monitoring": monitoring, "running_state": state, "latest": latest,
            "last_ms": latest["execution_time"] if latest else None, "pending_ms": pending,
        }

    # ---- rendering

    def render_monitoring(self, monitoring: dict, now: int, status: dict | None = None) -> dict[str, Any]:
        status = status or self.status(monitoring, now)
        latest, pending = status["latest"], status["pending_ms"]
        return {
            "id": monitoring["id"], "website": monitoring["website"], "customer_id": self.store["customer_id"],
            "checks": list(monitoring["checks"]), "frequency": monitoring["frequency"],
            "is_active": self.is_active(monitoring, now), "running_state": status["running_state"],
            "next_run_at": iso_ms(pending) if pending else iso_s(monitoring["next_start"]),
            "expires_at": iso_s(monitoring["expires_at"]), "last_execution": iso_ms(status["last_ms"]),
            "created_at": iso_s(monitoring["created_at"]), "updated_at": iso_s(monitoring["updated_at"]),
            "execution_results": execution_results(latest), "external_id": monitoring.get("external_id"),
        }

    def render_execution(self, run: dict) -> dict[str, Any]:
        monitoring = self.store["monitorings"].get(run["monitoring_id"], {})
        return {
            "id": run["id"], "monitoring_id": run["monitoring_id"], "website": monitoring.get("website"),
            "execution_time": iso_ms(run["execution_time"]), "external_id": monitoring.get("external_id"),
            "alert_count": len(run["alert_ids"]),
        }

    def render_alert(self, alert: dict) -> dict[str, Any]:
        checks = [
            {"check": check, "explanation": EXPLANATIONS.get(check, check), "method_used": "AI", "status": "FAILED"}
            for check in alert["checks"]
        ]
        snake = {
            "id": alert["id"], "monitoring_id": alert["monitoring_id"], "customer_id": self.store["customer_id"],
            "execution_result_id": alert["execution_result_id"], "website": alert["website"],
            "failed_checks": checks, "execution_time": iso_ms(alert["execution_time"]),
            "created_at": iso_ms(alert["execution_time"]), "acknowledged_at": iso_ms(alert["acknowledged_at"]),
            "external_id": alert["external_id"],
        }
        return camel_alert(snake) if alert["camel"] or self.camel else snake

    def page(self, rows: list[dict], key: Callable[[dict], tuple[str, ...]], descending: bool, size: int,
             request: web.Request) -> tuple[list[dict], str | None]:
        return paginate(self.store["customer_id"], rows, key, descending, size, request.query.get("next_token"))

    # ---- handlers: monitorings

    def valid_spec(self, body: Any, now: int) -> dict[str, Any]:
        """A create body validated as ``POST /monitorings`` does, with its defaults filled in."""
        issues = monitoring_issues(body, [], now)
        if issues:
            raise ApiFailure(400, issues)
        spec = normalised(body)
        if unsafe_host(spec["website"]):
            raise ApiFailure(400, "URL validation failed")
        return spec

    async def create_monitoring(self, request: web.Request) -> web.Response:
        body, now = await self.json_body(request), self.now_ms()
        spec = self.valid_spec(body, now)
        existing = self.active_duplicate(spec["website"], now)
        if existing is not None:
            if not spec["skip_duplicate"]:
                raise ApiFailure(400, "monitor already exists")
            return json_reply(self.render_monitoring(existing, now), 200)
        monitoring = self.create(spec, now)
        self.context.saved()
        return json_reply(self.render_monitoring(monitoring, now), 201)

    async def bulk_create(self, request: web.Request) -> web.Response:
        body, now = await self.json_body(request), self.now_ms()
        specs = bulk_specs(body, now)
        skip = any(spec["skip_duplicate"] for spec in specs)
        duplicates = self.duplicates(specs, now)
        if duplicates and not skip:  # all-or-nothing unless an item asks to skip (§4)
            raise ApiFailure(400, "Duplicate websites found", duplicates=duplicates)
        skipped = {entry["index"] for entry in duplicates}
        created = [self.create(spec, now) for index, spec in enumerate(specs) if index not in skipped]
        self.context.saved()
        items = [self.render_monitoring(monitoring, now) for monitoring in created]
        return json_reply({"is_successful": True, "items": items, "duplicates": duplicates or None}, 200)

    async def list_monitorings(self, request: web.Request) -> web.Response:
        query = self.monitoring_query(request)
        self.catch_up()
        now = self.now_ms()
        executions = self.store["executions"]
        rows = [self.status(m, now, executions) for m in self.store["monitorings"].values()]
        rows = [row for row in rows if query["keep"](row)]

        def render(chosen: list[dict]) -> list[dict]:
            return [self.render_monitoring(row["monitoring"], now, row) for row in chosen]

        if self.setting("monitorings_listing", "object") == "array":  # OAS 200 schema: one bare array
            return json_reply(render(sorted(rows, key=query["key"], reverse=query["descending"])))
        page, token = self.page(rows, query["key"], query["descending"], query["size"], request)
        return json_reply({"items": render(page), "next_token": token})

    def monitoring_query(self, request: web.Request) -> dict[str, Any]:
        size = page_size(*self.query(request, "page_size"))
        sort_by = one_of(self.query(request, "sort_by")[1], SORT_BY, "sort_by", "last_execution")
        direction = one_of(self.query(request, "sort_direction")[1], DILIGENT_SORT_DIRECTIONS, "sort_direction", "desc")
        state, website = request.query.get("state"), request.query.get("website")
        if state is not None and website is not None:
            raise ApiFailure(400, "state and website cannot be used together")
        wanted_state = None if state is None else state.strip().upper()
        wanted_site = None if website is None else site_key(website)

        def keep(row: dict) -> bool:
            if wanted_state is not None and row["running_state"] != wanted_state:
                return False
            return wanted_site is None or site_key(row["monitoring"]["website"]) == wanted_site

        key = partial(monitoring_sort_key, sort_by)
        return {"size": size, "keep": keep, "key": key, "descending": direction == "desc"}

    async def deactivate(self, request: web.Request) -> web.Response:
        monitoring = self.found(self.store["monitorings"].get(request.match_info["id"]), "Monitoring not found")
        now = self.now_ms()
        if not self.is_active(monitoring, now):
            return web.Response(status=200)  # already inactive: 200 with no body (§7)
        monitoring["is_active"], monitoring["updated_at"] = False, now
        self.context.saved()
        return web.Response(status=204)

    # ---- handlers: executions and alerts

    async def list_executions(self, request: web.Request) -> web.Response:
        start, end = execution_window(request, self.now_ms())
        size = page_size("page_size", request.query.get("page_size"))
        self.catch_up()
        rows = [run for run in self.listed_runs(self.now_ms()) if start <= run["execution_time"] <= end]
        page, token = self.page(rows, time_key, True, size, request)
        return json_reply({"items": [self.render_execution(run) for run in page], "next_token": token})

    async def list_alerts(self, request: web.Request) -> web.Response:
        keep, size = self.alert_query(request)
        self.catch_up()
        visible = self.visible_alerts(self.now_ms())
        page, token = self.page([alert for alert in visible if keep(alert)], time_key, True, size, request)
        count = sum(1 for alert in visible if alert["acknowledged_at"] is None)
        count_key = "unacknowledgedCount" if self.camel else "unacknowledged_count"
        return json_reply({"items": [self.render_alert(a) for a in page], count_key: count, "next_token": token})

    def alert_query(self, request: web.Request) -> tuple[Callable[[dict], bool], int]:
        size = page_size(*self.query(request, "page_size"), errors_shape=True)
        only_open = bool_param(*self.query(request, "only_unacknowledged"))
        done = bool_param(*self.query(request, "acknowledged"))
        after = time_param(*self.query(request, "execution_time_after"))
        before = time_param(*self.query(request, "execution_time_before"))

        def keep(alert: dict) -> bool:
            is_done = alert["acknowledged_at"] is not None
            if (only_open and is_done) or (done is not None and is_done != done):
                return False
            moment = alert["execution_time"]
            return (after is None or moment >= after) and (before is None or moment <= before)

        return keep, size

    async def acknowledge(self, request: web.Request) -> web.Response:
        body = await self.json_body(request)
        alert_id, everything = ack_target(body, "alertId" if self.camel else "alert_id")
        self.catch_up()
        now = self.now_ms()
        if everything:
            return json_reply(self.acknowledge_all(now))
        alert = self.store["alerts"].get(alert_id)
        if alert is None or alert["execution_time"] > now:
            raise ApiFailure(404, "Alert not found")
        if alert["acknowledged_at"] is None:  # re-acknowledging keeps the first time
            alert["acknowledged_at"] = now
            self.context.saved()
        return json_reply({"success": True, "message": "Alert acknowledged"})

    def acknowledge_all(self, now: int) -> dict[str, Any]:
        opened = [alert for alert in self.visible_alerts(now) if alert["acknowledged_at"] is None]
        for alert in opened:
            alert["acknowledged_at"] = now
        if opened:
            self.context.saved()
        reply: dict[str, Any] = {"success": True, "message": f"{len(opened)} alerts acknowledged"}
        if self.camel:
            reply["updatedCount"] = len(opened)  # the camelCase example (§10)
        else:
            reply["unacknowledged_count"] = 0  # OAS's field: what is left unacknowledged
        return reply


# ---- rendering helpers -------------------------------------------------------------------------


def execution_results(run: dict | None) -> list[dict]:
    # The item shape is unknown (§2); this follows OAS's unreferenced ExecutionResult schema.
    if run is None:
        return []
    status = "FAILED" if run["outcome"] in FAILED_OUTCOMES else "COMPLETED"
    alerts = [{"id": alert_id} for alert_id in run["alert_ids"]]
    return [{"executionTime": iso_ms(run["execution_time"]), "status": status, "alerts": alerts}]


def camel_alert(alert: dict[str, Any]) -> dict[str, Any]:
    """The older camelCase rendering of an alert (§1.6); ``acknowledged_at`` was snake there too."""
    names = {"monitoring_id": "monitoringId", "customer_id": "customerId", "execution_result_id": "executionResultId",
             "failed_checks": "failedChecks", "execution_time": "executionTime", "created_at": "createdAt",
             "external_id": "externalId"}
    out = {names.get(key, key): value for key, value in alert.items()}
    out["failedChecks"] = [
        {"check": c["check"], "explanation": c["explanation"], "methodUsed": c["method_used"], "status": c["status"]}
        for c in alert["failed_checks"]
    ]
    return out
