"""Plan and apply against the sandbox, with its request log: a 30-monitor spec from empty, a second
plan without changes, edits shown field by field, deletes only with prune, unmanaged monitors left
alone, adoption, pausing, and what cannot change in place."""

from __future__ import annotations

import pytest

from airflow_provider_monitoring.as_code import PlanError, load_spec
from airflow_provider_monitoring.as_code.model import with_suffix
from airflow_provider_monitoring.as_code.runner import apply_spec, plan_spec
from airflow_provider_monitoring.as_code.vendors import ADAPTERS
from airflow_provider_monitoring.hooks.datafold import DatafoldHook
from airflow_provider_monitoring.hooks.diligent import DiligentHook
from airflow_provider_monitoring.hooks.encrata import EncrataHook
from tests.as_code.specs import datafold, diligent, encrata, thirty_monitors, write_spec

CREATES = {"encrata": "/encrata/api/monitors", "diligent": "/diligent/monitorings",
           "datafold": "/datafold/api/v1/monitors/create/*"}


def writes(sandbox, since: int = 0) -> list[tuple[str, str]]:
    return [request for request in sandbox.requests()[since:] if request[0] != "GET"]


def kinds(plan) -> dict[str, str]:
    return {action.key: action.kind for action in plan.actions}


def changed_fields(plan, key: str) -> list[tuple]:
    [action] = [action for action in plan.actions if action.key == key]
    return [(change.field, change.old, change.new, change.replace) for change in action.changes]


def test_thirty_monitors_apply_from_empty_then_plan_no_changes_then_exactly_the_edits(monitoring_sandbox, tmp_path):
    monitors = thirty_monitors()
    path = write_spec(tmp_path / "monitors.yaml", monitors)

    first = plan_spec(path)
    assert set(kinds(first).values()) == {"create"} and len(first.actions) == 30
    assert first.exit_code == 2 and writes(monitoring_sandbox) == []  # planning sends no write

    plan, report = apply_spec(path)
    assert report.ok and len(report.done) == 30 and {item["action"] for item in report.done} == {"create"}
    for vendor, path_glob in CREATES.items():
        assert len(monitoring_sandbox.requests("POST", path_glob)) == 10, vendor

    before = len(monitoring_sandbox.requests())
    again = plan_spec(path)
    assert again.exit_code == 0 and not again.has_changes and again.count()["unchanged"] == 30
    assert again.summary_line() == "No changes. 30 unchanged."
    assert writes(monitoring_sandbox, before) == []

    # Three fields edited, one monitor removed from the spec.
    monitors[0]["frequency"] = "monthly"  # Encrata: in place
    monitors[21]["alert"] = {"type": "automatic", "sensitivity": 80}  # Datafold metric: in place
    monitors[12]["frequency"] = "every_4_weeks"  # Diligent: no update endpoint, so replaced
    removed = monitors.pop(9)
    write_spec(path, monitors)

    edited = plan_spec(path)
    changed = {key: kind for key, kind in kinds(edited).items() if kind != "unchanged"}
    assert changed == {"domains-0": "update", "quality-1": "update", "merchant-2": "replace", removed["key"]: "kept"}
    assert changed_fields(edited, "domains-0") == [("frequency", "weekly", "monthly", False)]
    assert changed_fields(edited, "quality-1") == [
        ("alert", {"type": "automatic", "sensitivity": 50}, {"type": "automatic", "sensitivity": 80}, False)]
    assert changed_fields(edited, "merchant-2") == [("frequency", "weekly", "every_4_weeks", True)]
    text = edited.render()
    assert '~ update    domains-0: Domains 0' in text and 'frequency: "weekly" -> "monthly"' in text
    assert "not in the spec; kept (--prune deletes it)" in text
    assert edited.summary_line() == ("Plan: 0 to create, 2 to update, 1 to replace, 0 to pause, 0 to adopt, "
                                     "0 to delete; 26 unchanged; 1 not in the spec and kept (--prune deletes them).")
    assert kinds(plan_spec(path, prune=True))[removed["key"]] == "delete"

    before = len(monitoring_sandbox.requests())
    _, report = apply_spec(path)  # without prune: the removed monitor stays
    assert report.ok and [item["action"] for item in report.done] == ["update", "replace", "update"]
    merchant_2 = next(a for a in edited.actions if a.key == "merchant-2").vendor_id
    assert sorted(writes(monitoring_sandbox, before)) == sorted([
        ("PATCH", f"/encrata/api/monitors/{next(a for a in edited.actions if a.key == 'domains-0').vendor_id}"),
        ("DELETE", f"/diligent/monitorings/{merchant_2}/deactivate"),
        ("POST", "/diligent/monitorings"),
        ("PATCH", f"/datafold/api/v1/monitors/{next(a for a in edited.actions if a.key == 'quality-1').vendor_id}/update"),
    ])
    assert any(m["name"] == "Domains 9 [as-code:team-a/domains-9#" + m["name"].split("#")[1] for m in
               EncrataHook().list_monitors() if m["name"].startswith("Domains 9 "))

    before = len(monitoring_sandbox.requests())
    _, report = apply_spec(path, prune=True)
    assert [(item["action"], item["key"]) for item in report.done] == [("delete", "domains-9")]
    assert writes(monitoring_sandbox, before) == [("DELETE", f"/encrata/api/monitors/{removed_id(edited)}")]
    final = plan_spec(path, prune=True)
    assert final.exit_code == 0 and final.count()["unchanged"] == 29


def removed_id(plan) -> str:
    return next(action.vendor_id for action in plan.actions if action.kind == "kept")


def test_unmanaged_monitors_with_the_same_name_are_never_touched(monitoring_sandbox, tmp_path):
    theirs_encrata = EncrataHook().create_monitor("Domains 0", monitor_type="domain", targets=["site0.example.com"])
    body = {key: value for key, value in datafold(0).items() if key not in ("key", "vendor", "type")}
    theirs_datafold = DatafoldHook().create_monitor("diff", body)
    theirs_diligent = DiligentHook().create_monitoring("https://merchant5.example.net", ["high_risk_mcc"])
    path = write_spec(tmp_path / "monitors.yaml", [encrata(0), datafold(0), diligent(5)])

    plan = plan_spec(path, prune=True)
    assert kinds(plan) == {"domains-0": "create", "quality-0": "create", "merchant-5": "blocked"}
    blocked = plan.blocked[0]
    assert theirs_diligent["id"] in blocked.note and f"adopt: {theirs_diligent['id']}" in blocked.note
    assert plan.exit_code == 1 and "1 blocked (apply refuses until resolved)" in plan.summary_line()
    before = len(monitoring_sandbox.requests())
    with pytest.raises(PlanError, match="apply refused: 1 monitor.* blocked, nothing was changed"):
        apply_spec(path, prune=True)
    assert writes(monitoring_sandbox, before) == []

    # Taking the Diligent one over by its id; the others are created beside the same-named ones.
    adopted = {**diligent(5), "checks": ["high_risk_mcc"], "frequency": "every_2_weeks", "adopt": theirs_diligent["id"]}
    del adopted["external_id"]  # a field the spec leaves out is not compared
    monitors = [encrata(0), datafold(0), adopted]
    write_spec(path, monitors)
    before = len(monitoring_sandbox.requests())
    plan, report = apply_spec(path, prune=True)
    assert kinds(plan) == {"domains-0": "create", "quality-0": "create", "merchant-5": "unchanged"}
    assert "adopted by id" in next(a for a in plan.actions if a.vendor == "diligent").note
    assert report.ok and sorted(writes(monitoring_sandbox, before)) == [
        ("POST", "/datafold/api/v1/monitors/create/diff"), ("POST", "/encrata/api/monitors")]
    assert [m["name"] for m in EncrataHook().list_monitors() if m["id"] == theirs_encrata["id"]] == ["Domains 0"]
    assert "as-code:team-a/quality-0" not in str(DatafoldHook().get_monitor(theirs_datafold)["tags"])

    # Pruning an emptier spec deletes our two, never theirs.
    write_spec(path, [], vendors=["encrata", "datafold"])
    before = len(monitoring_sandbox.requests())
    plan, report = apply_spec(path, prune=True)
    assert sorted((a.kind, a.key) for a in plan.actions) == [("delete", "domains-0"), ("delete", "quality-0")]
    deleted = {path for method, path in writes(monitoring_sandbox, before) if method == "DELETE"}
    assert f"/encrata/api/monitors/{theirs_encrata['id']}" not in deleted
    assert f"/datafold/api/v1/monitors/{theirs_datafold}" not in deleted and len(deleted) == 2


def test_another_namespace_is_neither_planned_nor_pruned(monitoring_sandbox, tmp_path):
    apply_spec(write_spec(tmp_path / "a.yaml", [encrata(1), datafold(2)], namespace="team-a"))
    plan = plan_spec(write_spec(tmp_path / "b.yaml", [], namespace="team-b", vendors=["encrata", "datafold"]),
                     prune=True)
    assert plan.actions == [] and plan.exit_code == 0


def test_adopting_a_monitor_marks_it_and_brings_it_to_the_spec(monitoring_sandbox, tmp_path):
    existing = EncrataHook().create_monitor("Legacy domains", monitor_type="domain", targets=["site4.example.com"])
    path = write_spec(tmp_path / "monitors.yaml", [{**encrata(4), "adopt": existing["id"]}])
    plan = plan_spec(path)
    assert kinds(plan) == {"domains-4": "adopt"}
    assert changed_fields(plan, "domains-4") == [("name", "Legacy domains", "Domains 4", False),
                                                 ("frequency", "monthly", "weekly", False)]
    assert "emails/targets, type and data source cannot be read and are taken to be the spec's" in plan.actions[0].note
    before = len(monitoring_sandbox.requests())
    _, report = apply_spec(path)
    assert report.ok and writes(monitoring_sandbox, before) == [("PATCH", f"/encrata/api/monitors/{existing['id']}")]
    assert EncrataHook().get_monitor(existing["id"])["name"].startswith("Domains 4 [as-code:team-a/domains-4#")
    assert plan_spec(path).exit_code == 0  # managed by its mark from now on


def test_adopting_an_unknown_or_managed_id_is_blocked(monitoring_sandbox, tmp_path):
    _, report = apply_spec(write_spec(tmp_path / "a.yaml", [encrata(1)]))
    managed_id = report.done[0]["id"]
    plan = plan_spec(write_spec(tmp_path / "b.yaml", [{**encrata(2), "adopt": "mon_nope"},
                                                      {**encrata(3), "adopt": managed_id}], namespace="team-b"))
    assert kinds(plan) == {"domains-2": "blocked", "domains-3": "blocked"}
    assert "no encrata monitor has id 'mon_nope'" in plan.actions[0].note
    assert "already managed as team-a/'domains-1'" in plan.actions[1].note


def test_enabled_false_pauses_each_vendor_its_own_way(monitoring_sandbox, tmp_path):
    monitors = [encrata(1), diligent(1), datafold(1)]
    path = write_spec(tmp_path / "monitors.yaml", monitors)
    _, created = apply_spec(path)
    ids = {item["key"]: item["id"] for item in created.done}
    write_spec(path, [{**monitor, "enabled": False} for monitor in monitors])
    plan = plan_spec(path)
    assert set(kinds(plan).values()) == {"pause"}
    assert "Diligent cannot reactivate" in next(a for a in plan.actions if a.vendor == "diligent").note
    before = len(monitoring_sandbox.requests())
    _, report = apply_spec(path)
    assert report.ok and sorted(writes(monitoring_sandbox, before)) == sorted([
        ("PATCH", f"/encrata/api/monitors/{ids['domains-1']}"),
        ("DELETE", f"/diligent/monitorings/{ids['merchant-1']}/deactivate"),
        ("PUT", f"/datafold/api/v1/monitors/{ids['quality-1']}/toggle"),
    ])
    assert EncrataHook().get_monitor(ids["domains-1"])["status"] == "paused"
    assert DatafoldHook().get_monitor(ids["quality-1"])["enabled"] is False
    assert plan_spec(path).exit_code == 0

    write_spec(path, monitors)  # enabled again: resumed in place, or a new Diligent monitoring
    assert kinds(plan_spec(path)) == {"domains-1": "update", "merchant-1": "create", "quality-1": "update"}


def test_fields_a_vendor_never_returns_are_followed_by_their_fingerprint(monitoring_sandbox, tmp_path):
    monitors = [encrata(3), datafold(0), datafold(1)]  # Encrata domains, a Datafold diff and metric
    path = write_spec(tmp_path / "monitors.yaml", monitors)
    _, created = apply_spec(path)
    ids = {item["key"]: item["id"] for item in created.done}

    monitors[0]["targets"] = ["site3.example.com"]  # Encrata cannot change targets: replaced
    monitors[1]["datadiff"] = {**monitors[1]["datadiff"], "primary_key": ["order_id", "line"]}  # updatable
    monitors[2]["metric"] = {**monitors[2]["metric"], "table": "PROD.SALES.REFUNDS"}  # fixed at creation
    write_spec(path, monitors)
    plan = plan_spec(path)
    assert kinds(plan) == {"domains-3": "replace", "quality-0": "update", "quality-1": "replace"}
    assert [(c.field, c.replace) for c in plan.actions[0].changes] == [("targets", True)]
    assert "emails/targets, type and data source: changed (fingerprint" in plan.render()

    before = len(monitoring_sandbox.requests())
    _, report = apply_spec(path)
    assert report.ok
    sent = writes(monitoring_sandbox, before)
    assert ("DELETE", f"/encrata/api/monitors/{ids['domains-3']}") in sent and ("POST", "/encrata/api/monitors") in sent
    assert ("PATCH", f"/datafold/api/v1/monitors/{ids['quality-0']}/update") in sent
    assert ("DELETE", f"/datafold/api/v1/monitors/{ids['quality-1']}") in sent
    assert ("POST", "/datafold/api/v1/monitors/create/metric") in sent
    stored = monitoring_sandbox.call(lambda state: state["datafold"]["monitors"][str(ids["quality-0"])]["datadiff"])
    assert stored["primary_key"] == ["order_id", "line"] and stored["dataset_a"]["table"] == "PROD.SALES.ORDERS"
    assert plan_spec(path).exit_code == 0


def test_what_the_vendor_stores_in_its_own_spelling_or_order_is_no_change(monitoring_sandbox, tmp_path):
    monitors = [
        {**encrata(1), "tracked_fields": ["company", "city"]},
        # Diligent stores the website sanitised and the expiry as a full time (docs/vendors/diligent.md).
        {**diligent(1), "website": "https://MERCHANT1.example.net/", "expires_at": "2099-01-01"},
    ]
    path = write_spec(tmp_path / "monitors.yaml", monitors)
    apply_spec(path)
    assert plan_spec(path).exit_code == 0

    # Sets written in another order: nothing to change, and above all nothing to re-create.
    monitors[0] = {**monitors[0], "targets": monitors[0]["targets"][::-1], "tracked_fields": ["city", "company"]}
    monitors[1] = {**monitors[1], "checks": monitors[1]["checks"][::-1]}
    write_spec(path, monitors)
    plan = plan_spec(path)
    assert plan.exit_code == 0, plan.render()


def test_a_new_encrata_type_is_seen_though_the_listing_leaves_the_type_out(api, connection, tmp_path):
    # Encrata's List schema has no monitor_type or data source (docs/vendors/encrata.md §3.1): the
    # fingerprint in the marker stands for them, as for the targets.
    path = write_spec(tmp_path / "monitors.yaml", [encrata(1)])
    spec = load_spec(path)
    adapter = ADAPTERS["encrata"]
    marker = adapter.marker(adapter.desired(spec.monitors[0]), spec.namespace)
    listed = {"id": "mon_1", "name": with_suffix("Domains 1", marker), "frequency": "weekly", "status": "active",
              "change_detection": "diff_only", "tracked_fields": [], "created_at": "2026-01-01T00:00:00Z"}
    api.on("GET", "/api/monitors", [listed])
    connection("encrata_default", "encrata", api.url)
    assert plan_spec(path).exit_code == 0

    write_spec(path, [{**encrata(1), "monitor_type": "company"}])  # the same targets, another type
    plan = plan_spec(path)
    assert kinds(plan) == {"domains-1": "replace"}
    assert "emails/targets, type and data source: changed" in plan.render()
    assert [request.method for request in api.seen] == ["GET"] * 2


def test_adopting_a_monitor_that_would_have_to_be_deleted_is_blocked(monitoring_sandbox, tmp_path):
    # Most likely a wrong id: adopting must not delete (or, on Diligent, deactivate for good) a
    # monitor nobody asked to lose.
    other_type = EncrataHook().create_monitor("Companies", monitor_type="company", targets=["Acme"])
    other_site = DiligentHook().create_monitoring("https://elsewhere.example.org", ["high_risk_mcc"])
    same_site = DiligentHook().create_monitoring("https://merchant2.example.net", ["high_risk_mcc"])
    path = write_spec(tmp_path / "monitors.yaml", [
        {**encrata(1), "adopt": other_type["id"]},
        {**diligent(1), "adopt": other_site["id"]},
        {**diligent(2), "adopt": same_site["id"]},  # the same website, other checks: replaced, as documented
    ])
    plan = plan_spec(path)
    assert kinds(plan) == {"domains-1": "blocked", "merchant-1": "blocked", "merchant-2": "replace"}
    notes = {action.key: action.note for action in plan.actions}
    assert "differs from the spec in what cannot change (monitor_type): adopting it would delete it" in (
        notes["domains-1"])
    assert "what cannot change (website, checks, frequency, external_id): adopting it would deactivate it" in (
        notes["merchant-1"])
    before = len(monitoring_sandbox.requests())
    with pytest.raises(PlanError, match="apply refused"):
        apply_spec(path)
    assert writes(monitoring_sandbox, before) == []


def test_a_datafold_listing_without_tags_still_finds_the_managed_monitor(api, connection, tmp_path):
    # The listing's tags are optional (docs/vendors/datafold.md §2.1); the marker is a tag.
    path = write_spec(tmp_path / "monitors.yaml", [datafold(3)])
    spec = load_spec(path)
    adapter = ADAPTERS["datafold"]
    desired = adapter.desired(spec.monitors[0])
    listed = {"id": 7, "name": "Quality schema 3", "monitor_type": "schema", "enabled": True,
              "created_at": "2026-01-01T00:00:00Z", "modified_at": "2026-01-01T00:00:00Z"}
    full = {**listed, "schedule": {"type": "none"}, "tags": ["airflow", adapter.marker(desired, "team-a").text()]}
    api.on("GET", "/api/v1/monitors", {"count": 1, "monitors": [listed], "page": 1, "page_size": 100, "total_pages": 1})
    api.on("GET", "/api/v1/monitors/7", full)
    connection("datafold_default", "datafold", api.url)
    plan = plan_spec(path)
    assert kinds(plan) == {"quality-3": "unchanged"} and plan.exit_code == 0
    assert len(api.requests_to("GET", "/api/v1/monitors/7")) == 1  # read once, in full
