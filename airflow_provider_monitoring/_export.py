"""Write result records to a file as JSON Lines or CSV, or collect a bounded number for XCom.

Vendor-neutral: a record is any dict. Records are read one at a time from an iterator (the hooks
fetch them page by page), so exporting a run of any size keeps memory flat.

``write_records(records, destination, output_format="jsonl")``
    ``destination`` is a local path (``str`` / ``os.PathLike``), an ``airflow.sdk.ObjectStoragePath``,
    or a URI string with a scheme (``"file:///..."``, ``"s3://..."``), which becomes an
    ObjectStoragePath. Returns ``{"path", "records", "changed"}``.

    - ``jsonl``: one JSON object per line, UTF-8 (not ASCII-escaped), keys in the order received.
    - ``csv``: one row per record, UTF-8, ``\\n`` line ends, a header row. Columns:

      * ``data`` (a dict) is flattened one level: ``data.<key>``;
      * ``changes`` (a dict) two levels: ``changes.<field>.old`` / ``changes.<field>.new`` (a change
        that is not a dict gets one column, ``changes.<field>``); a null or empty ``data`` /
        ``changes`` adds no column;
      * every other top-level field is a column of its own name;
      * a leaf that is a list or dict is JSON text, ``true``/``false`` for booleans (as in JSON and
        the vendors' own CSV), an empty cell for null or for a column the record lacks;
      * columns come in the order they are first seen; one first seen in a later record is added
        after the others.

      The column set is only known once every record has been read, so the rows are first written
      to an anonymous temporary spool file (flattened, as JSON Lines) while only the column *names*
      are kept in memory; the header and the rows follow in a second pass over the spool.

    Atomicity: a local file is written under a temporary name beside it and renamed into place
    when complete, so the destination never holds a partial export (a previous file of that name
    stays untouched if the export fails). Object storage has no rename: the whole export is first
    staged in a local temporary file, and the destination is opened (``open("wb")``) only after
    every record has been read, then streamed to; if that upload itself fails, the partial object
    is removed (best effort).

``collect_records(records, limit)``
    The records as a list, refusing to hold more than ``limit`` of them (XCom lives in the
    metadata database and is not meant for large data).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
from typing import IO, Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

from airflow_provider_monitoring._http.errors import ConfigurationError

JSONL, CSV = "jsonl", "csv"
FORMATS = (JSONL, CSV)
# Nested dicts flattened into columns, and how deep: data.<key>, changes.<field>.<old|new>.
FLATTENED_DEPTH = {"data": 1, "changes": 2}
COPY_CHUNK = 1024 * 1024


# ---- public API ---------------------------------------------------------------------------------


def write_records(records: Iterable[Any], destination: Any, output_format: str = JSONL) -> dict:
    """Stream ``records`` to ``destination`` as ``output_format``; see the module docstring.

    Raises ValueError for an unknown format (before anything is read or written) and for a record
    that is not a dict (naming its index; no destination file is left behind).
    """
    write_format = format_writer(output_format)
    target = resolve_destination(destination)
    with target.sink() as sink:
        records_written, changed = write_format(records, sink)
    return {"path": target.display, "records": records_written, "changed": changed}


def collect_records(records: Iterable[Any], limit: int) -> list[dict]:
    """The records as a list; ValueError as soon as record ``limit + 1`` arrives.

    Raising on the first record over the limit (rather than counting them all) means memory never
    holds more than ``limit`` records, whatever the size of the run.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a whole number of records, 0 or more, got {limit!r}")
    collected: list[dict] = []
    for index, record in enumerate(records):
        if index >= limit:
            raise ValueError(
                f"more than {limit} records: too many to return through XCom. Pass output_path "
                f"(a local path or ObjectStoragePath) to write the records to a file instead."
            )
        collected.append(checked_record(record, index))
    return collected


# ---- formats ------------------------------------------------------------------------------------

# A format writer reads every record, writes bytes to the sink and returns (records, changed).
FormatWriter = Callable[[Iterable[Any], IO[bytes]], "tuple[int, int]"]


def format_writer(output_format: Any) -> FormatWriter:
    writers: dict[str, FormatWriter] = {JSONL: write_jsonl, CSV: write_csv}
    if not isinstance(output_format, str) or output_format.lower() not in writers:
        raise ValueError(f"output_format must be one of {', '.join(map(repr, FORMATS))}, got {output_format!r}")
    return writers[output_format.lower()]


def write_jsonl(records: Iterable[Any], sink: IO[bytes]) -> tuple[int, int]:
    count = changed = 0
    for index, record in enumerate(records):
        sink.write(json_line(checked_record(record, index)))
        count += 1
        changed += is_changed(record)
    return count, changed


def write_csv(records: Iterable[Any], sink: IO[bytes]) -> tuple[int, int]:
    # Pass 1: flattened rows to the spool, column names (only) in memory. A dict keeps first-seen
    # order and deduplicates in O(1).
    columns: dict[str, None] = {}
    count = changed = 0
    with tempfile.TemporaryFile() as spool:
        for index, record in enumerate(records):
            row = flatten_record(checked_record(record, index))
            columns.update(dict.fromkeys(row))
            spool.write(json_line(row))
            count += 1
            changed += is_changed(record)
        if not columns:
            return count, changed  # no records (or only empty ones): an empty file, not a blank line
        # Pass 2: header, then each spooled row in the final column order.
        spool.seek(0)
        text = io.TextIOWrapper(sink, encoding="utf-8", newline="", write_through=True)
        try:
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(columns)
            for line in spool:
                row = json.loads(line)
                writer.writerow([row.get(column, "") for column in columns])
            text.flush()
        finally:
            text.detach()  # the sink belongs to the caller: do not let the wrapper close it
    return count, changed


def json_line(value: Any) -> bytes:
    # default=str: records parsed from JSON never need it, but a caller's own records may hold
    # datetimes or decimals; their text form beats failing half-way through an export.
    return json.dumps(value, ensure_ascii=False, default=str).encode("utf-8") + b"\n"


# ---- records ------------------------------------------------------------------------------------


def checked_record(record: Any, index: int) -> dict:
    if not isinstance(record, dict):
        raise ValueError(f"record {index} is a {type(record).__name__}, not a dict: {str(record)[:100]!r}")
    return record


def is_changed(record: dict) -> bool:
    """A record counts as changed if it says so (``has_changes``) or carries changes."""
    return bool(record.get("has_changes")) or bool(record.get("changes"))


def flatten_record(record: dict) -> dict[str, str]:
    """One CSV row as ``{column: cell text}``, following the column rule of the module docstring."""
    row: dict[str, str] = {}
    for key, value in record.items():
        depth = FLATTENED_DEPTH.get(key, 0)
        if depth and value is None:
            continue  # "changes": null means no change, not a column of empty cells
        row.update(flatten(str(key), value, depth))
    return row


def flatten(name: str, value: Any, depth: int) -> Iterator[tuple[str, str]]:
    if depth and isinstance(value, dict):
        for key, inner in value.items():
            yield from flatten(f"{name}.{key}", inner, depth - 1)
    else:
        yield name, cell(value)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


# ---- destinations -------------------------------------------------------------------------------


class LocalDestination:
    """A local file, written under a temporary name beside it and renamed when complete: the one
    atomic local write of this provider (exports and Encrata's CSV download alike). The path is
    checked when this is built, before any request."""

    def __init__(self, path: str | os.PathLike):
        if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)) or not str(os.fspath(path)).strip():
            raise ConfigurationError(f"destination must be a local file path, got {path!r}")
        self.display = os.fspath(path)
        self.path = os.path.abspath(self.display)
        if os.path.isdir(self.path):
            raise ConfigurationError(f"destination {self.display!r} is a directory; give a file name")
        if not os.path.isdir(os.path.dirname(self.path)):
            raise ConfigurationError(f"the directory of destination {self.display!r} does not exist")

    @contextlib.contextmanager
    def sink(self) -> Iterator[IO[bytes]]:
        # Beside the destination, so the final rename stays on one filesystem (and is atomic).
        directory, name = os.path.split(self.path)
        handle, part = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as sink:
                yield sink
                sink.flush()
                os.fsync(sink.fileno())  # the data is on disk before the name points at it
            # mkstemp makes the file private (0600); give it the mode a plain open() would have.
            os.chmod(part, 0o666 & ~current_umask())
            os.replace(part, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(part)
            raise


class ObjectStorageDestination:
    """An ObjectStoragePath: staged locally, then streamed up once every record has been read."""

    def __init__(self, path: Any):
        self.path = path
        self.display = str(path)

    @contextlib.contextmanager
    def sink(self) -> Iterator[IO[bytes]]:
        # Object stores cannot rename, and closing a half-written fsspec file commits it. Staging
        # means a failing source (HTTP error, bad record) never touches the destination.
        with tempfile.TemporaryFile() as staged:
            yield staged
            staged.seek(0)
            try:
                with self.path.open("wb") as upload:
                    shutil.copyfileobj(staged, upload, COPY_CHUNK)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.path.unlink(missing_ok=True)
                raise


def resolve_destination(destination: Any) -> LocalDestination | ObjectStorageDestination:
    """Which kind of destination this is; checked before any record is read."""
    if isinstance(destination, str) and has_scheme(destination):
        from airflow.sdk import ObjectStoragePath  # lazily: plain local exports need no Airflow

        return ObjectStorageDestination(ObjectStoragePath(destination))
    if isinstance(destination, (str, os.PathLike)) and not isinstance(destination, bytes):
        if not os.fspath(destination).strip():
            raise ValueError("destination is empty; give a file path or an ObjectStoragePath")
        return LocalDestination(destination)
    from airflow.sdk import ObjectStoragePath

    if isinstance(destination, ObjectStoragePath):
        return ObjectStorageDestination(destination)
    raise ValueError(
        f"destination must be a local path, an ObjectStoragePath or a URI such as 's3://bucket/key', "
        f"got {destination!r}"
    )


def has_scheme(value: str) -> bool:
    # "://" is required so a Windows drive ("C:\\out.csv") or a colon in a file name is not a scheme.
    return "://" in value and len(urlsplit(value).scheme) > 1


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask() would set it,
    racing other threads), else assumed to be the common 022."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    return 0o022
