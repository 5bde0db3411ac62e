"""Emulator of the Encrata monitor API (the vendor notes, docs/vendors/encrata.md), served under ``/encrata``.

Both path families, runs whose status is computed from timestamps when read (no background task),
synthetic results that are the same for the same target, and the documented variants switched on
in state. What it serves, its variants, its state and what it leaves out: docs/sandbox.md, "Encrata".
"""

from __future__ import annotations

import csv
import hashlib
import io
import ipaddress
import json
import re
import uuid
from functools import lru_cache
from typing import Any

from aiohttp import web

from airflow_provider_monitoring._vendors import (
    ENCRATA_API_PREFIXES as PREFIXES,
    ENCRATA_CHANGE_DETECTIONS as CHANGE_DETECTIONS,
    ENCRATA_DATA_SOURCE_TYPES as DATA_SOURCE_TYPES,
    ENCRATA_FREQUENCIES as FREQUENCIES,
    ENCRATA_MONITOR_TYPES as MONITOR_TYPES,
    ENCRATA_SETTABLE_STATUSES as SETTABLE_STATUSES,
)
from airflow_provider_monitoring.sandbox.core import (
    ApiFailure, MonitorPage, Route, RunChoice, VendorApp, json_reply, one_of,
)

FREQUENCY_DAYS = {"weekly": 7, "biweekly": 14, "monthly": 30, "quarterly": 91}
UPDATABLE_FIELDS = ("name", "frequency", "change_detection", "status", "tracked_fields")
# The Update page's list; it names person fields only, so it is enforced for email monitors alone.
EMAIL_TRACKED_FIELDS = (
    "first_name", "last_name", "company", "job_role", "city", "country", "bio", "industry", "education", "validity",
)
SUCCESS_OUTCOMES = ("success", "completed")
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
DAY = 86400.0

MONITOR_FIELDS = (
    "id", "name", "monitor_type", "frequency", "change_detection", "status", "tracked_fields", "email_count",
    "last_run_at", "next_run_at", "created_at", "data_source_type", "data_source_ref",
)

TARGET_PATTERNS = {
    "email": re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    "domain": re.compile(r"^(?=.{3,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$"),
    "phone": re.compile(r"^\+?[0-9][0-9 ().-]{5,}$"),
}
RESULT_NAMESPACE = uuid.UUID("5f1c6a52-3e0d-4a8e-9b8e-6c1d2f7e0a11")


def is_agent(request: web.Request) -> bool:
    # raw_path keeps ids percent-encoded, so only the route itself can hold "/api/agent".
    path = request.raw_path.split("?", 1)[0]
    return re.search(r"/api/agent(/|$)", path) is not None


# ---- query parameters -------------------------------------------------------------------------


def int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiFailure(400, f"{name} must be an integer, got {raw!r}") from None


def page_params(request: web.Request) -> tuple[int, int]:
    limit, offset = int_param(request, "limit", DEFAULT_LIMIT), int_param(request, "offset", 0)
    if limit < 1 or offset < 0:
        raise ApiFailure(400, "limit must be at least 1 and offset at least 0")
    # Over the documented maximum is clamped, not refused (the docs leave it open).
    return min(limit, MAX_LIMIT), offset


def bool_param(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false").strip().lower()
    if raw not in ("true", "false", "1", "0", ""):
        raise ApiFailure(400, f"{name} must be true or false, got {raw!r}")
    return raw in ("true", "1")


def type_param(request: web.Request) -> str | None:
    value = request.query.get("type")
    return one_of(value, MONITOR_TYPES, "type") if value else None


# ---- create / update validation ---------------------------------------------------------------


def valid_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiFailure(400, "name is required and must be a non-empty string")
    return value


def valid_target(monitor_type: str, target: str) -> bool:
    if monitor_type in TARGET_PATTERNS:
        return TARGET_PATTERNS[monitor_type].match(target) is not None
    if monitor_type == "ip":
        try:
            ipaddress.ip_address(target)
        except ValueError:
            return False
    return True  # company and darkweb targets are free text


def given_targets(body: dict, monitor_type: str, required: bool) -> list[str]:
    """The targets in the body: ``emails`` for email monitors, ``targets`` for the others."""
    field, other = ("emails", "targets") if monitor_type == "email" else ("targets", "emails")
    if body.get(other) is not None:
        raise ApiFailure(400, f"a {monitor_type} monitor takes its targets in '{field}', not '{other}'")
    values = body.get(field)
    if values is None:
        if required:
            raise ApiFailure(400, f"{field} is required for a {monitor_type} monitor")
        return []
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise ApiFailure(400, f"{field} must be a non-empty array of strings")
    bad = [value for value in values if not valid_target(monitor_type, value.strip())]
    if bad:
        raise ApiFailure(400, f"invalid {monitor_type} target(s) in {field}: {', '.join(bad[:5])}")
    return [value.strip() for value in values]


def list_targets(store: dict, body: dict) -> list[str]:
    ref = body.get("data_source_ref")
    if not isinstance(ref, str) or not ref.strip():
        raise ApiFailure(400, "data_source_ref (a contact list id) is required when data_source_type is 'list'")
    contact_list = store["lists"].get(ref)
    if contact_list is None:
        raise ApiFailure(400, f"contact list {ref!r} not found")
    return [str(target) for target in contact_list.get("targets", [])]


def creation_fields(store: dict, body: dict) -> dict:
    """The validated monitor fields of a create body, with its de-duplicated ``targets``."""
    name = valid_name(body.get("name"))
    monitor_type = one_of(body.get("monitor_type"), MONITOR_TYPES, "monitor_type", "email")
    source = one_of(body.get("data_source_type"), DATA_SOURCE_TYPES, "data_source_type", "csv")
    from_list = source == "list"
    if not from_list and body.get("data_source_ref") is not None:
        raise ApiFailure(400, "data_source_ref is only used with data_source_type 'list'")
    targets = given_targets(body, monitor_type, required=not from_list)
    if from_list:
        targets += list_targets(store, body)
    return {
        "name": name, "monitor_type": monitor_type,
        "frequency": one_of(body.get("frequency"), FREQUENCIES, "frequency", "monthly"),
        "change_detection": one_of(body.get("change_detection"), CHANGE_DETECTIONS, "change_detection", "diff_only"),
        "data_source_type": source, "data_source_ref": body.get("data_source_ref") if from_list else None,
        "targets": list(dict.fromkeys(targets)),  # duplicates ignored, first order kept
    }


def tracked_fields_of(value: Any, monitor_type: str) -> list[str]:
    """The documented request form is a JSON array serialised into a string (quirk 11.6)."""
    if not isinstance(value, str):
        raise ApiFailure(400, 'tracked_fields must be a JSON-encoded string, e.g. "[\\"company\\"]"')
    try:
        names = json.loads(value)
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ApiFailure(400, "tracked_fields must encode a JSON array of field names")
    unknown = [name for name in names if name not in EMAIL_TRACKED_FIELDS]
    if monitor_type == "email" and unknown:
        raise ApiFailure(400, f"unknown tracked_fields: {', '.join(unknown)}")
    return names


def update_fields(body: dict, monitor: dict) -> dict:
    if not body:
        raise ApiFailure(400, "nothing to update")
    fixed = [key for key in body if key not in UPDATABLE_FIELDS]
    if fixed:
        raise ApiFailure(400, f"cannot update {', '.join(fixed)}; allowed: {', '.join(UPDATABLE_FIELDS)}")
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = valid_name(body["name"])
    for key, allowed in (("frequency", FREQUENCIES), ("change_detection", CHANGE_DETECTIONS),
                         ("status", SETTABLE_STATUSES)):
        if key in body:
            changes[key] = one_of(body[key], allowed, key)
    if "tracked_fields" in body:
        changes["tracked_fields"] = tracked_fields_of(body["tracked_fields"], monitor["monitor_type"])
    return changes


# ---- synthetic enrichment ---------------------------------------------------------------------

FIRST_NAMES = ("Ada", "Grace", "Linus", "Satya", "Margaret", "Alan", "Barbara", "Ken")
LAST_NAMES = ("Lovelace", "Hopper", "Torvalds", "Nadella", "Hamilton", "Turing", "Liskov", "Thompson")
COMPANIES = ("Microsoft", "Acme Corp", "Globex", "Initech", "Umbrella", "Stark Industries")
CITIES = (("Seattle", "US"), ("London", "GB"), ("Berlin", "DE"), ("Paris", "FR"), ("Toronto", "CA"))
# The field that changes for each monitor type, with the values it takes.
CHANGING = {
    "email": ("job_role", ("CTO", "CEO", "VP Engineering", "Head of Data", "Staff Engineer", "CFO")),
    "phone": ("carrier", ("Verizon", "AT&T", "T-Mobile", "Vodafone", "Orange")),
    "domain": ("registrar", ("Cloudflare, Inc.", "GoDaddy", "Namecheap", "Gandi SAS", "MarkMonitor Inc.")),
    "ip": ("isp", ("Comcast", "Hetzner Online", "OVH SAS", "DigitalOcean", "Amazon.com")),
    "company": ("employee_count", ("1-10", "11-50", "51-200", "201-1000", "1001-5000")),
    "darkweb": ("severity", ("low", "medium", "high", "critical")),
}


def base_data(monitor_type: str, target: str, digest: bytes) -> dict:
    city, country = CITIES[digest[3] % len(CITIES)]
    if monitor_type == "email":
        return {"first_name": FIRST_NAMES[digest[4] % 8], "last_name": LAST_NAMES[digest[5] % 8],
                "company": COMPANIES[digest[6] % len(COMPANIES)], "city": city, "country": country}
    if monitor_type == "phone":
        return {"phone": target, "valid": True, "line_type": ("mobile", "landline", "voip")[digest[4] % 3],
                "country": country}
    if monitor_type == "domain":
        return {"expiry": f"20{27 + digest[4] % 3}-0{1 + digest[5] % 9}-15",
                "nameservers": [f"ns{n}.{target}" for n in (1, 2)]}
    if monitor_type == "ip":
        return {"ip_address": target, "location": {"city": city, "country": country},
                "threat_score": digest[4] % 100}
    if monitor_type == "company":
        return {"company": target, "industry": ("Software", "Retail", "Finance", "Energy")[digest[4] % 4],
                "location": city}
    return {"query": target, "result_count": digest[4] % 20,
            "sources": [f"forum-{digest[5] % 9}", f"paste-{digest[6] % 9}"]}


@lru_cache(maxsize=65536)
def target_profile(monitor_type: str, target: str) -> tuple[dict, dict | None, dict]:
    """``(data, changes, change)`` for one target: the same every time, so tests can rely on it.

    ``change`` is what the target shows whenever it changes; ``changes`` is that change when the
    target changes by itself (the first byte of its hash a multiple of 3: about a third), else None.
    The returned dicts are shared (cached): callers must not mutate them.
    """
    digest = hashlib.sha256(f"{monitor_type}:{target}".encode()).digest()
    field, values = CHANGING[monitor_type]
    new, old = values[digest[1] % len(values)], values[(digest[1] + 1) % len(values)]
    data = {**base_data(monitor_type, target, digest), field: new}
    change = {field: {"old": old, "new": new}}
    return data, change if digest[0] % 3 == 0 else None, change


def target_result(run: dict, target: str) -> tuple[dict, dict | None]:
    """A target's ``(data, changes)`` in one run: every target or none when the run was started
    so (a control request's ``changes``), and changes outside ``tracked_fields`` (when the run's
    monitor tracked some) do not count."""
    data, changes, change = target_profile(run["monitor_type"], target)
    forced = run.get("changes")
    if forced is not None:
        changes = change if forced else None
    tracked = run.get("tracked_fields") or []
    if changes and tracked:
        changes = {key: value for key, value in changes.items() if key in tracked} or None
    return data, changes


def changed_count(run: dict) -> int:
    return sum(1 for target in run["targets"] if target_result(run, target)[1])


# ---- the API ----------------------------------------------------------------------------------


class EncrataApp(VendorApp):
    """Handlers over ``context.state["encrata"]``; every status is derived from timestamps when read."""

    vendor = "encrata"
    tables = ("monitors", "runs", "variants", "lists")
    control_fields = (*VendorApp.control_fields, "changes")
    # The first quarter of a run's duration reads "pending", the rest "running".
    phases = (("pending", 0.25), ("running", 1.0))
    monitor_pages = True

    def routes(self) -> list[Route]:
        family = [
            ("GET", "/monitors", self.list_monitors),
            ("POST", "/monitors", self.create_monitor),
            ("GET", "/monitors/{monitor_id}", self.get_monitor),
            ("PATCH", "/monitors/{monitor_id}", self.update_monitor),
            ("DELETE", "/monitors/{monitor_id}", self.delete_monitor),
            ("POST", "/monitors/{monitor_id}/run", self.trigger_run),
            ("GET", "/monitors/{monitor_id}/runs", self.list_monitor_runs),
            ("GET", "/monitors/{monitor_id}/runs/{run_id}/results", self.run_results),
            ("GET", "/monitors/{monitor_id}/runs/{run_id}/results/download", self.download_results),
            ("GET", "/monitoring/runs", self.list_all_runs),
            ("GET", "/monitoring/results", self.list_all_results),
        ]
        both_families = [(method, prefix + path, handler) for prefix in PREFIXES for method, path, handler in family]
        return [*both_families, ("GET", "/api/health", self.health)]

    # ---- auth and errors: each path family has its own error shape

    def check_key(self, request: web.Request) -> None:
        if not request.path.endswith("/api/health"):  # the health check needs no key
            super().check_key(request)

    def sent_key(self, header: str | None) -> str | None:
        return header[len("Bearer "):] if header and header.startswith("Bearer ") else None

    def refusal(self, request: web.Request, header: str | None) -> ApiFailure:
        # The two documented 401 texts, one per family (Errors page / agent example).
        return ApiFailure(401, "bad key" if is_agent(request) else "unauthorized")

    def error_body(self, request: web.Request, failure: ApiFailure) -> dict:
        return {"c": failure.status, "m": failure.detail} if is_agent(request) else {"error": failure.detail}

    def route_error(self, exc: web.HTTPException) -> str:
        return exc.reason.lower()  # "not found", as Encrata words its own 404

    def body_failure(self, error: ValueError | None) -> ApiFailure:
        return ApiFailure(400, "a JSON body is required" if error is None else "invalid JSON body")

    async def json_object(self, request: web.Request, required: bool = True) -> dict:
        body = await self.json_body(request, required)
        if not isinstance(body, dict):
            raise ApiFailure(400, "the body must be a JSON object")
        return body

    # ---- state

    def variant(self, name: str, default: Any) -> Any:
        return self.store["variants"].get(name, default)

    def new_id(self, kind: str) -> str:
        if self.variant("id_style", "uuid") == "prefixed":
            return f"{kind}_{uuid.uuid4().hex[:24]}"
        return self.context.uuid()

    def monitor(self, request: web.Request) -> dict:
        return self.found(self.monitors.get(request.match_info["monitor_id"]), "monitor not found")

    def monitor_keys(self, monitor: dict) -> tuple:
        return monitor["id"], monitor["name"], *monitor["targets"]

    def schedulable(self, monitor: dict) -> bool:
        return monitor["status"] == "active"

    def run(self, request: web.Request, monitor: dict) -> dict:
        run = self.store["runs"].get(request.match_info["run_id"], {})
        return self.found(run if run.get("monitor_id") == monitor["id"] else None, "run not found")

    def runs_newest_first(self, monitor_id: str | None = None, monitor_type: str | None = None) -> list[dict]:
        runs = [
            run for run in self.store["runs"].values()
            if (monitor_id is None or run["monitor_id"] == monitor_id)
            and (monitor_type is None or run["monitor_type"] == monitor_type)
        ]
        return sorted(runs, key=lambda run: (run["created_ts"], run.get("seq", 0)), reverse=True)

    # ---- views

    def timeline(self, run: dict) -> tuple[str, float | None, float | None]:
        """``(status, started_ts, completed_ts)`` of a run at this moment."""
        phase = self.phase(run, self.now())
        started = None if phase == "pending" else self.phase_start(run, "running")
        if phase == "done":
            return run["outcome"], started, run["created_ts"] + max(0.0, float(run["seconds"]))
        return phase, started, None

    def run_view(self, run: dict, long_form: bool) -> dict:
        status, started, completed = self.timeline(run)
        succeeded = status in SUCCESS_OUTCOMES
        view = {
            "id": run["id"], "status": status, "total_records": len(run["targets"]) if succeeded else 0,
            "changes_detected": changed_count(run) if succeeded else 0,
            "credits_used": run.get("credits", len(run["targets"])),
            "started_at": self.iso(started), "completed_at": self.iso(completed),
        }
        if long_form:  # per-monitor run listings leave these out (quirk 11.10)
            view.update(monitor_id=run["monitor_id"], monitor_name=run["monitor_name"],
                        created_at=self.iso(run["created_ts"]))
        return view

    def monitor_view(self, monitor: dict) -> dict:
        view = {key: monitor.get(key) for key in MONITOR_FIELDS}
        finished = [done for _, _, done in map(self.timeline, self.runs_newest_first(monitor["id"])) if done]
        view["last_run_at"] = self.iso(max(finished)) if finished else None
        view["next_run_at"] = self.next_run_at(monitor)
        view["created_at"] = self.iso(monitor["created_ts"])
        view["email_count"] = len(monitor["targets"])
        return view

    def next_run_at(self, monitor: dict) -> str | None:
        if monitor["status"] != "active":
            return None
        period = FREQUENCY_DAYS.get(monitor["frequency"], 30) * DAY
        elapsed = max(0.0, self.now() - monitor["created_ts"])
        return self.iso(monitor["created_ts"] + (elapsed // period + 1) * period)

    def result_targets(self, run: dict, changes_only: bool = False) -> list[str]:
        """The targets a run has results for (none unless it ended in success), in order."""
        if self.timeline(run)[0] not in SUCCESS_OUTCOMES:
            return []
        if not changes_only:
            return run["targets"]
        return [target for target in run["targets"] if target_result(run, target)[1]]

    def records(self, run: dict, targets: list[str] | None = None) -> list[dict]:
        """The short-form result records of a run, or of just ``targets`` of it (a page: building
        only what a page shows keeps a 20,000-target run as quick to page through as a small one)."""
        if targets is None:
            targets = self.result_targets(run)
        pairs = self.variant("changes_style", "object") == "pair"
        records = []
        for target in targets:
            data, changes = target_result(run, target)
            if changes and pairs:
                changes = {key: [value["old"], value["new"]] for key, value in changes.items()}
            record_id = str(uuid.uuid5(RESULT_NAMESPACE, f"{run['id']}\n{target}"))
            records.append({"id": record_id, "email": target, "data": data, "changes": changes,
                            "has_changes": changes is not None})
        return records

    def long_records(self, run: dict) -> list[dict]:
        completed = self.timeline(run)[2]
        extra = {"run_id": run["id"], "monitor_id": run["monitor_id"], "monitor_name": run["monitor_name"],
                 "created_at": self.iso(completed) if completed else None}
        return [{**record, **extra} for record in self.records(run)]

    def monitor_page(self, monitor_id: str) -> MonitorPage | None:
        monitor = self.store["monitors"].get(monitor_id)
        if monitor is None:
            return None
        facts = [("type", monitor["monitor_type"]), ("status", monitor["status"]),
                 ("frequency", monitor["frequency"]), ("targets", len(monitor["targets"]))]
        runs = []
        for run in self.runs_newest_first(monitor_id):
            status, started, completed = self.timeline(run)
            runs.append((run["id"], status, self.iso(run["created_ts"]), self.iso(started), self.iso(completed)))
        return MonitorPage(monitor["name"], facts, runs)

    # ---- handlers: monitors

    async def list_monitors(self, request: web.Request) -> web.Response:
        monitors = [self.monitor_view(monitor) for monitor in self.store["monitors"].values()]
        # The endpoint page shows a bare array, the SDKs read {"monitors": [...]} (quirk 11.3).
        return json_reply({"monitors": monitors} if is_agent(request) else monitors)

    async def create_monitor(self, request: web.Request) -> web.Response:
        fields = creation_fields(self.store, await self.json_object(request))
        monitor = {"id": self.new_id("mon"), **fields, "status": "active", "tracked_fields": [],
                   "created_ts": self.now()}
        self.store["monitors"][monitor["id"]] = monitor
        self.context.saved()
        return json_reply(self.monitor_view(monitor), 201)

    async def get_monitor(self, request: web.Request) -> web.Response:
        return json_reply(self.monitor_view(self.monitor(request)))

    async def update_monitor(self, request: web.Request) -> web.Response:
        monitor = self.monitor(request)
        monitor.update(update_fields(await self.json_object(request), monitor))
        self.context.saved()
        return json_reply(self.monitor_view(monitor))

    async def delete_monitor(self, request: web.Request) -> web.Response:
        monitor = self.monitor(request)
        del self.store["monitors"][monitor["id"]]
        # Runs and their results go with the monitor (the docs do not say; a clean slate is simplest).
        for run_id in [run["id"] for run in self.runs_newest_first(monitor["id"])]:
            del self.store["runs"][run_id]
        self.context.saved()
        if int(self.variant("delete_status", 204)) == 200:
            return json_reply({"status": "deleted", "id": monitor["id"]})
        return web.Response(status=204)

    # ---- handlers: runs

    async def trigger_run(self, request: web.Request) -> web.Response:
        monitor = self.monitor(request)  # paused monitors are triggered too
        await self.json_object(request, required=False)
        run = self.start_run(monitor)
        self.context.saved()
        return json_reply(self.trigger_answer(run, monitor), 202)

    def start_run(self, monitor: dict, choice: RunChoice | None = None) -> dict:
        self.charge(len(monitor["targets"]))
        run = self.new_run(monitor, choice or RunChoice())
        self.store["runs"][run["id"]] = run
        return run

    def run_answer(self, monitor: dict, run: dict) -> dict:
        # What a run that ends in success will report, so a caller knows whether a changes-only watcher fires.
        changes = changed_count(run) if run["outcome"] in SUCCESS_OUTCOMES else 0
        return self.control_answer(monitor["id"], run["id"], run["outcome"], run["created_ts"], run["seconds"],
                            changes_detected=changes)

    def charge(self, cost: int) -> None:
        balance = self.store.get("credits")
        if balance is None:
            return
        if balance < cost:
            raise ApiFailure(402, "Insufficient credits")
        self.store["credits"] = balance - cost

    def new_run(self, monitor: dict, choice: RunChoice) -> dict:
        outcome, seconds = self.outcome(monitor, choice)
        return {
            "id": self.new_id("run"), "monitor_id": monitor["id"], "monitor_name": monitor["name"],
            "monitor_type": monitor["monitor_type"], "targets": list(monitor["targets"]),
            "tracked_fields": list(monitor.get("tracked_fields") or []), "credits": len(monitor["targets"]),
            "outcome": outcome, "seconds": seconds, "created_ts": self.now(),
            "seq": self.context.next_int(self.vendor, "run"), "changes": choice.changes,
        }

    def trigger_answer(self, run: dict, monitor: dict) -> dict:
        if self.variant("trigger_status", "running") == "queued":
            return {"run_id": run["id"], "status": "queued", "message": "Run queued."}
        noun = "emails" if monitor["monitor_type"] == "email" else "targets"
        return {"run_id": run["id"], "status": "running", "message": f"Run started for {len(run['targets'])} {noun}"}

    async def list_monitor_runs(self, request: web.Request) -> web.Response:
        return self.runs_page(request, self.runs_newest_first(self.monitor(request)["id"]), long_form=False)

    async def list_all_runs(self, request: web.Request) -> web.Response:
        return self.runs_page(request, self.runs_newest_first(monitor_type=type_param(request)), long_form=True)

    def runs_page(self, request: web.Request, runs: list[dict], long_form: bool) -> web.Response:
        limit, offset = page_params(request)
        views = [self.run_view(run, long_form) for run in runs[offset:offset + limit]]
        return json_reply({"runs": views, "total": len(runs)})

    # ---- handlers: results

    async def run_results(self, request: web.Request) -> web.Response:
        run = self.run(request, self.monitor(request))
        targets = self.result_targets(run, bool_param(request, "changes_only"))
        paged = is_agent(request) or "limit" in request.query or "offset" in request.query
        if not paged:
            # The Run Results page's form: a bare array of every record.
            return json_reply(self.records(run, targets))
        limit, offset = page_params(request)
        return json_reply({"results": self.records(run, targets[offset:offset + limit]), "total": len(targets)})

    async def download_results(self, request: web.Request) -> web.Response:
        run = self.run(request, self.monitor(request))
        filename = f"encrata-results-{run['id']}.csv"
        return web.Response(
            text=results_csv(self.records(run)), content_type="text/csv", charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    async def list_all_results(self, request: web.Request) -> web.Response:
        monitor_type = type_param(request)
        changes_only = bool_param(request, "changes_only")
        limit, offset = page_params(request)
        records = [
            record for run in self.runs_newest_first(monitor_type=monitor_type)
            for record in self.long_records(run) if record["has_changes"] or not changes_only
        ]
        return json_reply({"results": records[offset:offset + limit], "total": len(records)})

    async def health(self, request: web.Request) -> web.Response:
        return json_reply({"status": "ok"})


# ---- CSV download -----------------------------------------------------------------------------


def cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (dict, list)) else value


def results_csv(records: list[dict]) -> str:
    """One row per target: email, has_changes, the data fields, then ``<field>_old``/``<field>_new``
    for every field that changed in any row (nested values as JSON text)."""
    data_keys = list(dict.fromkeys(key for record in records for key in record["data"]))
    changed = list(dict.fromkeys(key for record in records for key in (record["changes"] or {})))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    change_columns = [f"{key}_{end}" for key in changed for end in ("old", "new")]
    writer.writerow(["email", "has_changes", *data_keys, *change_columns])
    for record in records:
        changes = record["changes"] or {}
        pairs = [old_new(changes.get(key)) for key in changed]
        writer.writerow([record["email"], str(record["has_changes"]).lower(),
                         *[cell(record["data"].get(key)) for key in data_keys],
                         *[cell(value) for pair in pairs for value in pair]])
    return out.getvalue()


def old_new(change: Any) -> tuple[Any, Any]:
    if isinstance(change, dict):
        return change.get("old"), change.get("new")
    if isinstance(change, list) and len(change) == 2:
        return change[0], change[1]
    return None, None
