"""Exporting result records: what lands in the file, what the caller gets back, and the failures."""

from __future__ import annotations

import csv
import io
import json
import os
import time

import pytest

from airflow_provider_monitoring._export import collect_records, write_records

RECORDS = [
    {
        "id": "r1",
        "email": "ada@example.com",
        "data": {"first_name": "Ada", "city": "Zürich", "location": {"lat": 47.4, "lon": 8.5}},
        "changes": {"job_role": {"old": "CTO", "new": "CEO"}},
        "has_changes": True,
    },
    {
        "id": "r2",
        "email": "bob@example.com",
        "data": {"first_name": "Bob", "city": "Paris", "tags": ["a", "b"]},
        "changes": None,
        "has_changes": False,
    },
    {
        "id": "r3",
        "email": "cy@example.com",
        "data": {"first_name": "Cy, Jr.", "city": None},
        "changes": {"job_role": {"old": None, "new": "CFO"}, "company": {"old": "Acme", "new": "Initech"}},
        "has_changes": True,
        "score": 0.5,
    },
]

EXPECTED_JSONL = (
    '{"id":"r1","email":"ada@example.com","data":{"first_name":"Ada","city":"Zürich",'
    '"location":{"lat":47.4,"lon":8.5}},"changes":{"job_role":{"old":"CTO","new":"CEO"}},"has_changes":true}\n'
    '{"id":"r2","email":"bob@example.com","data":{"first_name":"Bob","city":"Paris","tags":["a","b"]},'
    '"changes":null,"has_changes":false}\n'
    '{"id":"r3","email":"cy@example.com","data":{"first_name":"Cy, Jr.","city":null},'
    '"changes":{"job_role":{"old":null,"new":"CFO"},"company":{"old":"Acme","new":"Initech"}},'
    '"has_changes":true,"score":0.5}\n'
)

# Columns in first-seen order; data.tags, changes.company.* and score appear only in later records.
EXPECTED_CSV = (
    "id,email,data.first_name,data.city,data.location,changes.job_role.old,changes.job_role.new,"
    "has_changes,data.tags,changes.company.old,changes.company.new,score\n"
    'r1,ada@example.com,Ada,Zürich,"{""lat"":47.4,""lon"":8.5}",CTO,CEO,true,,,,\n'
    'r2,bob@example.com,Bob,Paris,,,,false,"[""a"",""b""]",,,\n'
    'r3,cy@example.com,"Cy, Jr.",,,,CFO,true,,Acme,Initech,0.5\n'
)


def test_jsonl_is_one_object_per_line_utf8_keys_as_received(tmp_path):
    out = tmp_path / "out.jsonl"
    result = write_records(iter(RECORDS), out)
    assert result == {"path": str(out), "records": 3, "changed": 2}
    assert out.read_bytes().decode("utf-8") == EXPECTED_JSONL
    assert [json.loads(line) for line in out.read_text("utf-8").splitlines()] == RECORDS


def test_csv_flattens_data_and_changes_and_adds_late_columns(tmp_path):
    out = tmp_path / "out.csv"
    result = write_records(iter(RECORDS), str(out), output_format="csv")
    assert result == {"path": str(out), "records": 3, "changed": 2}
    assert out.read_bytes().decode("utf-8") == EXPECTED_CSV
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"))))
    assert rows[2]["data.first_name"] == "Cy, Jr."
    assert json.loads(rows[1]["data.tags"]) == ["a", "b"]


def test_changed_counts_has_changes_or_non_empty_changes(tmp_path):
    records = [
        {"email": "a", "has_changes": True},
        {"email": "b", "changes": {"x": {"old": 1, "new": 2}}},  # no has_changes field at all
        {"email": "c", "changes": {}, "has_changes": False},
        {"email": "d", "changes": None},
    ]
    result = write_records(records, tmp_path / "out.jsonl")
    assert (result["records"], result["changed"]) == (4, 2)


def test_no_records_writes_an_empty_file(tmp_path):
    for fmt in ("jsonl", "csv"):
        out = tmp_path / f"empty.{fmt}"
        assert write_records([], out, fmt) == {"path": str(out), "records": 0, "changed": 0}
        assert out.read_bytes() == b""


def test_file_uri_becomes_object_storage_path(tmp_path):
    uri = (tmp_path / "remote.csv").as_uri()
    assert uri.startswith("file:///")
    result = write_records(iter(RECORDS), uri, output_format="csv")
    assert result == {"path": uri, "records": 3, "changed": 2}
    assert (tmp_path / "remote.csv").read_text("utf-8") == EXPECTED_CSV


def test_object_storage_path_destination(tmp_path):
    from airflow.sdk import ObjectStoragePath

    path = ObjectStoragePath((tmp_path / "remote.jsonl").as_uri())
    result = write_records(iter(RECORDS), path)
    assert result == {"path": str(path), "records": 3, "changed": 2}
    assert (tmp_path / "remote.jsonl").read_text("utf-8") == EXPECTED_JSONL


def failing_source():
    yield RECORDS[0]
    yield RECORDS[1]
    raise ConnectionError("page 2 failed")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_failure_mid_stream_leaves_no_local_file(tmp_path, fmt):
    with pytest.raises(ConnectionError, match="page 2 failed"):
        write_records(failing_source(), tmp_path / f"out.{fmt}", fmt)
    assert os.listdir(tmp_path) == []  # neither the destination nor a temporary file


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_failure_mid_stream_keeps_the_previous_file(tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    out.write_text("previous export\n")
    with pytest.raises(ConnectionError):
        write_records(failing_source(), out, fmt)
    assert out.read_text() == "previous export\n"
    assert os.listdir(tmp_path) == [out.name]


def test_failure_mid_stream_never_creates_the_object(tmp_path):
    with pytest.raises(ConnectionError):
        write_records(failing_source(), (tmp_path / "remote.jsonl").as_uri())
    assert os.listdir(tmp_path) == []


def test_exported_file_gets_the_usual_permissions(tmp_path):
    out = tmp_path / "out.jsonl"
    write_records(RECORDS, out)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_unknown_format_is_refused_before_reading_or_writing(tmp_path):
    consumed = []

    def source():
        consumed.append(True)
        yield from RECORDS

    with pytest.raises(ValueError, match=r"output_format must be one of 'jsonl', 'csv', got 'parquet'"):
        write_records(source(), tmp_path / "out.parquet", output_format="parquet")
    assert consumed == []
    assert os.listdir(tmp_path) == []


def test_missing_directory_is_refused_before_reading(tmp_path):
    consumed = []

    def source():
        consumed.append(True)
        yield from RECORDS

    with pytest.raises(ValueError, match="does not exist"):
        write_records(source(), tmp_path / "nowhere" / "out.jsonl")
    assert consumed == []


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_record_that_is_not_a_dict_is_named_by_index(tmp_path, fmt):
    with pytest.raises(ValueError, match=r"record 2 is a list, not a dict"):
        write_records([RECORDS[0], RECORDS[1], ["not", "a", "record"]], tmp_path / "out", fmt)
    assert os.listdir(tmp_path) == []


def test_collect_records_returns_up_to_the_limit():
    assert collect_records(iter(RECORDS), limit=3) == RECORDS


def test_collect_records_stops_at_the_first_record_over_the_limit():
    seen = []

    def endless():
        while True:
            seen.append(1)
            yield {"email": f"{len(seen)}@example.com"}

    with pytest.raises(ValueError, match="more than 5 records") as error:
        collect_records(endless(), limit=5)
    assert "pass output_path" in str(error.value).lower()
    assert len(seen) == 6  # the sixth record triggered the error; nothing more was read


def test_collect_records_refuses_a_non_dict():
    with pytest.raises(ValueError, match="record 1 is a str"):
        collect_records([{"a": 1}, "b"], limit=10)


# ---- end to end against the sandbox -------------------------------------------------------------


def wait_for_success(hook, monitor_id: str, run_id: str, seconds: float = 30.0) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        run = hook.get_run(monitor_id, run_id)
        if run["status"] in ("success", "completed"):
            return run
        assert run["status"] in ("pending", "queued", "running"), run
        assert time.monotonic() < deadline, f"run still {run['status']} after {seconds} s"
        time.sleep(0.2)


def test_export_a_sandbox_run_to_jsonl_and_csv(monitoring_sandbox, tmp_path):
    from airflow_provider_monitoring.hooks.encrata import EncrataHook

    targets = [f"d{i}.example.com" for i in range(250)]
    hook = EncrataHook()
    monitor = hook.create_monitor("export test", monitor_type="domain", targets=targets)
    run = hook.trigger_run(monitor["id"])
    wait_for_success(hook, monitor["id"], run["run_id"])

    results = list(hook.get_run_results(monitor["id"], run["run_id"]))
    changed = sum(1 for record in results if record["has_changes"])
    assert 0 < changed < len(targets)  # the sandbox changes about a third: both kinds are present

    jsonl = write_records(hook.get_run_results(monitor["id"], run["run_id"]), tmp_path / "out.jsonl")
    assert jsonl == {"path": str(tmp_path / "out.jsonl"), "records": 250, "changed": changed}
    lines = (tmp_path / "out.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == results

    out_csv = write_records(hook.get_run_results(monitor["id"], run["run_id"]), tmp_path / "out.csv", "csv")
    assert out_csv == {"path": str(tmp_path / "out.csv"), "records": 250, "changed": changed}
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text("utf-8"))))
    assert [row["email"] for row in rows] == targets
    assert sum(row["has_changes"] == "true" for row in rows) == changed
    assert {"data.registrar", "changes.registrar.old", "changes.registrar.new"} <= set(rows[0])


# ---- the fast writers against what the json and csv modules write --------------------------------

# Every kind of value a vendor's JSON holds, and the awkward ones: non-ASCII text, line breaks and
# other control characters, quotes, commas, numbers at the edges of how Python spells them, nested
# lists of objects, empty containers, keys first seen in a later batch. Parsed from JSON text, as
# a hook's records are.
TRICKY_TEXTS = ["Zürich", "日本語", "🎉", "line\nbreak", "cr\rhere", "tab\there", "nul\x00and\x1f", "\x7f",
                "\u2028", '"quoted"', "back\\slash", "a, b", " padded ", "", "=1+2", "ß" * 50]
TRICKY_NUMBERS = [0, -1, 7, 2**63, 10**30, 0.5, -0.0, 0.0, 0.0001, 123456.789, 1e15, 9999999999999998.0, -2.5]


def tricky_record(n: int) -> dict:
    text, number = TRICKY_TEXTS[n % len(TRICKY_TEXTS)], TRICKY_NUMBERS[n % len(TRICKY_NUMBERS)]
    record = {
        "id": f"r{n}",
        "email": f"user{n}@example.com" if n % 7 else text,
        "data": {"city": text, "score": number, "tags": [text, number, None, True] if n % 3 else [],
                 "location": {"lat": number, "nested": [{"k": text}]} if n % 4 else {}, "flag": n % 2 == 0,
                 "missing": None if n % 5 else text},
        "changes": None if n % 3 else {"job_role": {"old": text if n % 2 else None, "new": number}},
        "has_changes": n % 3 == 0,
    }
    if n >= 150:  # first seen in a later batch: new columns after the others
        record["data"][f"late_{n % 2}"] = [number, {"t": text}]
        record["score"] = number
    if n >= 240:
        record["changes"] = {"company": ["Acme", text], "job_role": {"old": None, "new": text, "by": "vendor"}}
    return json.loads(json.dumps(record))


TRICKY_RECORDS = [tricky_record(n) for n in range(250)]


def compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_jsonl_writes_what_json_dumps_writes_compact_for_json_values(tmp_path):
    out = tmp_path / "out.jsonl"
    write_records(iter(TRICKY_RECORDS), out)
    expected = "".join(compact(record) + "\n" for record in TRICKY_RECORDS)
    assert out.read_bytes() == expected.encode("utf-8")


def reference_csv(records: list[dict]) -> bytes:
    """The column rule of the module docstring, written plainly with the csv module: what the
    export wrote before it formatted a batch at a time."""
    def flatten(name, value, depth):
        if depth and isinstance(value, dict):
            for key, inner in value.items():
                yield from flatten(f"{name}.{key}", inner, depth - 1)
        elif value is None:
            yield name, ""
        elif isinstance(value, bool):
            yield name, "true" if value else "false"
        elif isinstance(value, (dict, list, tuple)):
            yield name, compact(value)
        else:
            yield name, str(value)

    rows = []
    for record in records:
        row: dict[str, str] = {}
        for key, value in record.items():
            depth = {"data": 1, "changes": 2}.get(key, 0)
            if not (depth and value is None):
                row.update(flatten(str(key), value, depth))
        rows.append(row)
    columns = list(dict.fromkeys(name for row in rows for name in row))
    if not columns:
        return b""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([row.get(column, "") for column in columns] for row in rows)
    return out.getvalue().encode("utf-8")


CSV_CASES = {
    "tricky": TRICKY_RECORDS,
    "one column": [{"a": None}, {"a": "x"}, {"a": ""}],
    "empty records first": [{}, {}, {"a": 1, "b": None}, {}],
    "only empty records": [{}, {}],
    "data and changes of other shapes": [
        {"id": 1, "data": "not a dict", "changes": ["not", "a", "dict"]},
        {"id": 2, "data": {1: "int key", "x": 2}, "changes": {"f": "not a dict", "g": None, "h": {}}},
        {"data.x": "top level", "data": {"x": "nested, same name"}, "changes": {}},
        {"id": 3, "data": {}, "changes": {"f": {"old": [1, 2], "new": {"a": None}}}},
        {"id": 4, "data": None, "changes": None, "mixed": 1},
        {"id": 5, "mixed": "text, with a comma"},
        {"id": 6, "mixed": None},
        {"id": 7, "mixed": True},
        {"id": 8, "mixed": 2.5},
    ],
    "a column that appears after many batches": [
        {"id": n, **({"late": "x\ny"} if n == 990 else {})} for n in range(1000)
    ],
}


@pytest.mark.parametrize("records", CSV_CASES.values(), ids=CSV_CASES.keys())
def test_csv_writes_what_the_csv_module_writes_by_the_column_rule(tmp_path, records):
    out = tmp_path / "out.csv"
    result = write_records(iter(records), out, "csv")
    assert result["records"] == len(records)
    assert out.read_bytes() == reference_csv(records)


def test_csv_reads_back_every_cell(tmp_path):
    # Python 3.11's csv module leaves a lone "\r" unquoted, and its reader then ends the row there.
    records = [record for record in TRICKY_RECORDS if r"\r" not in json.dumps(record)]
    out = tmp_path / "out.csv"
    write_records(records, out, "csv")
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"), newline="")))
    assert [row["data.city"] for row in rows] == [record["data"]["city"] for record in records]
    assert [row["data.tags"] for row in rows] == [compact(record["data"]["tags"]) for record in records]
    assert rows[-1]["changes.company"] == compact(records[-1]["changes"]["company"])


def test_jsonl_spells_numbers_and_python_objects_as_documented(tmp_path):
    import datetime
    import decimal

    class Opaque:
        def __str__(self):
            return "opaque, as text"

    records = [
        {"small": 1e-05, "big": 1e16, "nan": float("nan"), "infinite": float("-inf")},
        {"when": datetime.datetime(2026, 1, 2, 3, 4, 5), "amount": decimal.Decimal("1.50"), "thing": Opaque()},
        {None: "a None key", True: "a bool key"},  # the batch goes to the json module
    ]
    out = tmp_path / "out.jsonl"
    write_records(records[:2], out)
    assert out.read_text("utf-8").splitlines() == [
        '{"small":0.00001,"big":1e16,"nan":null,"infinite":null}',
        '{"when":"2026-01-02T03:04:05","amount":"1.50","thing":"opaque, as text"}',
    ]
    assert json.loads(out.read_text("utf-8").splitlines()[0])["small"] == 1e-05
    write_records(records[2:], out)
    assert out.read_text("utf-8") == '{"null":"a None key","true":"a bool key"}\n'


def test_a_non_dict_record_in_a_later_batch_is_named_by_its_index(tmp_path):
    records = [{"n": n} for n in range(250)] + ["nope"]
    for fmt in ("jsonl", "csv"):
        with pytest.raises(ValueError, match=r"record 250 is a str, not a dict"):
            write_records(iter(records), tmp_path / f"out.{fmt}", fmt)
    assert os.listdir(tmp_path) == []


def test_records_are_read_a_batch_at_a_time(tmp_path):
    read = []

    def source():
        for n in range(1000):
            read.append(n)
            yield {"n": n}

    def spy(batches):
        for batch in batches:
            assert len(read) - batch[-1]["n"] - 1 <= 0  # nothing read past the batch being written
            yield batch

    from airflow_provider_monitoring import _export

    for fmt in ("jsonl", "csv"):
        read.clear()
        writer = _export.format_writer(fmt)
        with (tmp_path / f"out.{fmt}").open("wb") as sink:
            assert writer(spy(_export.batches_of(source())), sink) == (1000, 0)
