"""Write result records to a file as JSON Lines or CSV, or collect a bounded number for XCom.

Vendor-neutral: a record is any dict. Records are read from an iterator a hundred at a time (the
hooks fetch them page by page), so exporting a run of any size keeps memory flat.

``write_records(records, destination, output_format="jsonl")``
    ``destination`` is a local path (``str`` / ``os.PathLike``), an ``airflow.sdk.ObjectStoragePath``,
    or a URI string with a scheme (``"file:///..."``, ``"s3://..."``), which becomes an
    ObjectStoragePath. Returns ``{"path", "records", "changed"}``.

    - ``jsonl``: one JSON object per line, UTF-8 (not ASCII-escaped), keys in the order received,
      compact (``,`` and ``:`` between items, no spaces). Encoded by msgspec, a batch at a time:
      for values parsed from JSON this is byte for byte what
      ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` writes, except the
      spelling of numbers under 1e-4 (other than 0) or from 1e16 in size: ``0.00001`` for
      ``1e-05``, ``1e16`` for ``1e+16``, the same numbers. NaN and infinities,
      which JSON lacks, are written ``null``. A caller's own Python objects are written as
      msgspec writes them (datetimes in ISO 8601, enums by value, bytes in base64, sets as
      lists), an object msgspec has no rule for as its ``str()``; a batch of records holding a
      dict key that is None, a bool or a tuple is written by the json module instead.
    - ``csv``: one row per record, UTF-8, ``\\n`` line ends, a header row. Columns:

      * ``data`` (a dict) is flattened one level: ``data.<key>``;
      * ``changes`` (a dict) two levels: ``changes.<field>.old`` / ``changes.<field>.new`` (a change
        that is not a dict gets one column, ``changes.<field>``); a null or empty ``data`` /
        ``changes`` adds no column;
      * every other top-level field is a column of its own name;
      * a leaf that is a list or dict is JSON text (written as in ``jsonl``), ``true``/``false``
        for booleans (as in JSON and the vendors' own CSV), an empty cell for null or for a
        column the record lacks, ``str()`` of anything else;
      * columns come in the order they are first seen; one first seen in a later record is added
        after the others;
      * quoting as Python's csv module does (``QUOTE_MINIMAL``).

      The column set is only known once every record has been read, so the rows are first written
      as CSV to an anonymous temporary spool file while only the column *names* are kept in
      memory; the header and the rows follow in a second pass over the spool. New columns only
      ever come last, so a row spooled before one appeared needs only empty cells at its end:
      the second pass copies the spool as it is, except such rows, which it reads back and pads.

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
import functools
import io
import json
import operator
import os
import re
import shutil
import tempfile
from itertools import chain, islice, repeat
from typing import IO, Any, Callable, Iterable, Iterator, Sequence
from urllib.parse import urlsplit

from airflow_provider_monitoring._http.errors import ConfigurationError

JSONL, CSV = "jsonl", "csv"
FORMATS = (JSONL, CSV)
COPY_CHUNK = 1024 * 1024
COMPACT = (",", ":")  # msgspec's separators, for the json module's fallback


# ---- public API ---------------------------------------------------------------------------------


def write_records(records: Iterable[Any], destination: Any, output_format: str = JSONL) -> dict:
    """Stream ``records`` to ``destination`` as ``output_format``; see the module docstring.

    :param records: Dicts, read once, a batch at a time.
    :param destination: A local path, an ``ObjectStoragePath``, or a URI string with a scheme.
    :param output_format: ``"jsonl"`` (the default) or ``"csv"``.

    Raises ValueError for an unknown format (before anything is read or written) and for a record
    that is not a dict (naming its index; no destination file is left behind).
    """
    write_format = format_writer(output_format)
    target = resolve_destination(destination)
    with target.sink() as sink:
        records_written, changed = write_format(batches_of(records), sink)
    return {"path": target.display, "records": records_written, "changed": changed}


def collect_records(records: Iterable[Any], limit: int) -> list[dict]:
    """The records as a list; ValueError as soon as record ``limit + 1`` arrives.

    Raising on the first record over the limit (rather than counting them all) means memory never
    holds more than ``limit`` records, whatever the size of the run.

    :param records: Dicts, read one at a time.
    :param limit: The most records to return (0 or more).
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


# ---- batches ------------------------------------------------------------------------------------

# Records formatted at a time: a page of a hook's listing. Not more: a batch is held while it is
# written, and holding more than ~700 new containers (3 to 4 per result record) sets off the
# cyclic garbage collector, whose full passes over an Airflow process's objects cost an export of
# 100,000 records 0.4 s at 500 a batch.
BATCH_SIZE = 100


def batches_of(records: Iterable[Any]) -> Iterator[list]:
    """``records`` as lists of up to BATCH_SIZE, read as they are needed."""
    source = iter(records)
    while batch := list(islice(source, BATCH_SIZE)):
        yield batch


# ---- formats ------------------------------------------------------------------------------------

# A format writer reads every batch of records, writes bytes to the sink and returns (records, changed).
FormatWriter = Callable[[Iterable[list], IO[bytes]], "tuple[int, int]"]


def format_writer(output_format: Any) -> FormatWriter:
    writers: dict[str, FormatWriter] = {JSONL: write_jsonl, CSV: write_csv}
    if not isinstance(output_format, str) or output_format.lower() not in writers:
        raise ValueError(f"output_format must be one of {', '.join(map(repr, FORMATS))}, got {output_format!r}")
    return writers[output_format.lower()]


def write_jsonl(batches: Iterable[list], sink: IO[bytes]) -> tuple[int, int]:
    count = changed = 0
    for batch in batches:
        check_records(batch, count)
        sink.write(json_lines(batch))
        count += len(batch)
        changed += changed_records(batch)
    return count, changed


def write_csv(batches: Iterable[list], sink: IO[bytes]) -> tuple[int, int]:
    table = CsvTable()
    count = changed = 0
    with tempfile.TemporaryFile() as spool:
        for batch in batches:
            check_records(batch, count)
            table.spool(batch, spool)
            count += len(batch)
            changed += changed_records(batch)
        if table.columns:  # else no records (or only empty ones): an empty file, not a blank line
            table.write(spool, sink)
    return count, changed


# ---- records ------------------------------------------------------------------------------------


def checked_record(record: Any, index: int) -> dict:
    if not isinstance(record, dict):
        raise ValueError(f"record {index} is a {type(record).__name__}, not a dict: {str(record)[:100]!r}")
    return record


def check_records(batch: list, first_index: int) -> None:
    """ValueError naming the first record of ``batch`` that is not a dict (by its index in the export)."""
    if not all(map(isinstance, batch, repeat(dict))):
        for index, record in enumerate(batch, first_index):
            checked_record(record, index)


def changed_records(batch: list[dict]) -> int:
    """How many records of ``batch`` are changed: a record is if it says so (``has_changes``) or
    carries changes. Counted without a Python call per record."""
    said = map(bool, map(dict.get, batch, repeat("has_changes")))
    carried = map(bool, map(dict.get, batch, repeat("changes")))
    return sum(map(operator.or_, said, carried))


# ---- JSON text ----------------------------------------------------------------------------------


def json_line(value: Any) -> bytes:
    """One value as a line of JSON by the json module: what a batch msgspec cannot encode gets."""
    # default=str: records parsed from JSON never need it, but a caller's own records may hold
    # objects of any type; their text form beats failing half-way through an export.
    return json.dumps(value, ensure_ascii=False, separators=COMPACT, default=str).encode("utf-8") + b"\n"


def json_lines(records: list) -> bytes:
    """``records`` as JSON Lines (see the module docstring): one msgspec call for the batch."""
    try:
        return json_encoder().encode_lines(records)
    except (TypeError, ValueError):  # e.g. a None or tuple key, which the json module writes
        return b"".join(map(json_line, records))


def json_texts(values: Iterable[Any]) -> list[str]:
    """Each value as JSON text (a CSV cell), as :func:`json_lines` writes it. JSON escapes line
    breaks inside strings, so the batch's lines are the values' texts."""
    return json_lines(list(values)).decode("utf-8").split("\n")[:-1]


@functools.cache
def json_encoder() -> Any:
    import msgspec  # here, not at import: reading a DAG file imports the operators, not msgspec

    return msgspec.json.Encoder(enc_hook=text_of_unknown)


def text_of_unknown(value: Any) -> str:
    """msgspec's hook for an object it has no rule for: its str(), as the json module's
    ``default=str`` gives. None, a bool or a tuple only gets here as a dict key, which the json
    module writes its own way (``"null"``, ``"true"``) or refuses: raising hands the batch to it."""
    if value is None or isinstance(value, (bool, tuple)):
        raise TypeError(f"a {type(value).__name__} as a dict key")
    return str(value)


# ---- CSV ----------------------------------------------------------------------------------------

# Cells by value type: text as it is; None, True and False looked up (a dict lookup in C beats a
# Python call per cell); numbers by str(); lists and dicts as JSON text; anything else by cell().
AS_IS = frozenset({str})
LOOKED_UP = frozenset({str, type(None), bool})
SCALAR_TEXT: dict[Any, str] = {None: "", True: "true", False: "false"}
NUMBERS = frozenset({int, float})
CONTAINERS = frozenset({list, dict})
# A cell holding one of these is quoted in the spool, so csv.reader reads every spooled row back.
SPOOL_QUOTED = re.compile(r'[,"\n\r]')
# Shapes and layouts kept at most (clearing beyond keeps memory flat whatever the records' keys).
MAX_SHAPES = 1024


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json_texts([value])[0]
    return str(value)


def column_text(values: tuple) -> Sequence[str]:
    """One column of a batch of rows as CSV cells, quoted as the spool needs (``None`` for a
    record that lacks the column)."""
    kinds = set(map(type, values))
    if kinds <= NUMBERS:
        return list(map(str, values))  # digits, signs, points, letters: never quoted
    if kinds <= CONTAINERS:
        return quoted_json(json_texts(values))
    if kinds <= AS_IS and not holds_quoted_character("".join(values)):
        return values
    if kinds <= LOOKED_UP:
        distinct = set(values)
        if len(distinct) * 2 <= len(values):  # repeated values (a flag, a country): each done once
            text_of = {value: quoted_cell(SCALAR_TEXT.get(value, value)) for value in distinct}
            return list(map(text_of.__getitem__, values))
        return quoted_column(values if kinds <= AS_IS else list(map(SCALAR_TEXT.get, values, values)))
    return quoted_column(list(map(cell, values)))


def quoted_json(texts: list[str]) -> Sequence[str]:
    """JSON texts quoted as cells. JSON text holds no line break (JSON escapes them), so a column
    whose every text holds a string is escaped and quoted as one joined text."""
    if not all(map(operator.contains, texts, repeat('"'))):
        return quoted_column(texts)
    joined = "\n".join(texts).replace('"', '""').replace("\n", '"\n"')
    return f'"{joined}"'.split("\n")


def quoted_column(cells: Sequence[str]) -> Sequence[str]:
    """``cells`` quoted where :data:`SPOOL_QUOTED` says (CSV-escaping their double quotes)."""
    if not holds_quoted_character("".join(cells)):
        return cells
    return list(map(quoted_cell, cells))


def holds_quoted_character(text: str) -> bool:
    # Four substring searches (memchr) beat one regular expression search by ten times.
    return "," in text or '"' in text or "\n" in text or "\r" in text


def quoted_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if SPOOL_QUOTED.search(text) else text


@functools.cache
def csv_quotes_carriage_returns() -> bool:
    """Whether this Python's csv module quotes a cell holding a bare ``\\r`` (3.11 does not): when it
    does not, spooled rows holding one are written again by it in the second pass."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(["a\rb"])
    return out.getvalue().startswith('"')


class CsvTable:
    """The columns found so far and the spooled rows of an export to CSV.

    Pass 1 (:meth:`spool`): each batch's rows go to the spool as CSV text, as wide as the columns
    known once that batch is read, with a note of each run of rows of one width. Columns only ever
    grow at the end, so a row spooled before a column appeared is the final row cut short.
    Pass 2 (:meth:`write`): the header, then each run: copied byte for byte if it has every
    column, else read back with csv.reader, padded with empty cells and written again.

    A record's row is laid out by a function made for its shape (its keys, its ``data`` keys and
    the keys of each of its ``changes``), compiled once the shape comes back: one Python call per
    record instead of a walk through its keys. At most MAX_SHAPES shapes are kept.
    """

    def __init__(self) -> None:
        self.columns: dict[str, int] = {}  # name -> position, in first-seen order
        self._shapes: dict[tuple, dict[str, tuple]] = {}  # shape -> {column name: key path}
        self._layouts: dict[tuple, Callable[[dict], tuple]] = {}  # shape -> layout, at the current width
        self._layouts_width = 0
        self._met: dict[tuple, None] = {}  # shapes met once
        self._runs: list[list] = []  # [width, rows, start, end, rewrite]

    def spool(self, records: list[dict], spool: IO[bytes]) -> None:
        shapes = shapes_of(records)
        layouts = list(map(self._layouts.get, shapes))
        if None in layouts:  # a shape not laid out at the current width yet
            layouts = self._new_layouts(shapes)
        width = len(self.columns)
        text = rows_text(list(map(operator.call, layouts, records)), width)
        start = spool.tell()
        spool.write(text.encode("utf-8"))
        rewrite = "\r" in text and not csv_quotes_carriage_returns()
        self._note_run(width, len(records), start, spool.tell(), rewrite)

    def write(self, spool: IO[bytes], sink: IO[bytes]) -> None:
        header = io.StringIO()
        csv.writer(header, lineterminator="\n").writerow(self.columns)
        sink.write(header.getvalue().encode("utf-8"))
        width = len(self.columns)
        for run_width, rows, start, end, rewrite in self._runs:
            spool.seek(start)
            if run_width == width and not rewrite:
                copy_bytes(spool, sink, end - start)
            else:
                rewrite_rows(spool, sink, rows, width)

    def _paths(self, shape: tuple) -> dict[str, tuple]:
        paths = self._shapes.get(shape)
        if paths is None:
            if len(self._shapes) >= MAX_SHAPES:
                self._shapes.clear()
                self._met.clear()
            paths = self._shapes[shape] = shape_paths(shape)
        return paths

    def _new_layouts(self, shapes: list[tuple]) -> list[Callable[[dict], tuple]]:
        """The layout of each shape, after adding the columns of those not seen before."""
        for shape in dict.fromkeys(shapes):  # in the order first seen: new columns keep that order
            for name in self._paths(shape):
                self.columns.setdefault(name, len(self.columns))
        if len(self.columns) != self._layouts_width or len(self._layouts) >= MAX_SHAPES:
            self._layouts.clear()
            self._layouts_width = len(self.columns)
        return [self._layout(shape) for shape in shapes]

    def _layout(self, shape: tuple) -> Callable[[dict], tuple]:
        layout = self._layouts.get(shape)
        if layout is None:
            by_position: list[tuple | None] = [None] * len(self.columns)
            for name, path in self._paths(shape).items():
                by_position[self.columns[name]] = path
            if shape in self._met:  # compiled the second time: a shape met once is not worth it
                layout = self._layouts[shape] = compiled_layout(by_position)
            else:
                self._met[shape] = None
                layout = path_layout(by_position)
        return layout

    def _note_run(self, width: int, rows: int, start: int, end: int, rewrite: bool) -> None:
        last = self._runs[-1] if self._runs else None
        if last is not None and last[0] == width and last[4] == rewrite and last[3] == start:
            last[1] += rows
            last[3] = end
        else:
            self._runs.append([width, rows, start, end, rewrite])


def shape_of(record: dict) -> tuple:
    """What decides a record's columns: its keys; its ``data`` keys (True: null, no column;
    False: not a dict, one column); and its ``changes`` (:func:`changes_shape`)."""
    data = record.get("data")
    return (
        tuple(record),
        tuple(data) if isinstance(data, dict) else data is None,
        changes_shape(record.get("changes")),
    )


def shapes_of(records: list[dict]) -> list[tuple]:
    """:func:`shape_of` of each record. In the usual batch (every ``data`` a dict, every
    ``changes`` null or a dict of dicts) the parts are taken column by column, with no Python
    call per record; any other batch record by record."""
    datas = list(map(dict.get, records, repeat("data")))
    changes = list(map(dict.get, records, repeat("changes")))
    objects = [change for change in changes if change is not None]
    if not (
        DICT_ONLY.issuperset(map(type, datas))
        and DICT_ONLY.issuperset(map(type, objects))
        and DICT_ONLY.issuperset(map(type, chain.from_iterable(map(dict.values, objects))))
    ):
        return list(map(shape_of, records))
    # changes_shape of each object: (its fields, each field's keys), in the order of the records.
    inner_keys = map(tuple, map(map, repeat(tuple), map(dict.values, objects)))
    shaped = iter(list(zip(map(tuple, objects), inner_keys)))
    changes_shapes = [True if change is None else next(shaped) for change in changes]
    return list(zip(map(tuple, records), map(tuple, datas), changes_shapes))


DICT_ONLY = frozenset({dict})


def changes_shape(changes: Any) -> Any:
    """True: null, no column; False: not a dict, one column; else ``(fields, inner)``, ``inner``
    holding each field's keys (None for a change that is not a dict: one column)."""
    if changes is None:
        return True
    if not isinstance(changes, dict):
        return False
    inner = list(changes.values())
    if DICT_ONLY.issuperset(map(type, inner)):  # the usual {field: {"old", "new"}}
        return tuple(changes), tuple(map(tuple, inner))
    return tuple(changes), tuple([tuple(change) if isinstance(change, dict) else None for change in inner])


def shape_paths(shape: tuple) -> dict[str, tuple]:
    """``{column name: path of keys}`` of a record of ``shape``, in its order (the column rule of
    the module docstring; a name met twice keeps its first place and its last path)."""
    keys, data, changes = shape
    paths: dict[str, tuple] = {}
    for key in keys:
        if key == "data" and data is not True:
            items = [(f"data.{name}", (key, name)) for name in data] if data is not False else [("data", (key,))]
        elif key == "changes" and changes is not True:
            items = (
                [item for field, inner in zip(*changes) for item in change_paths(key, field, inner)]
                if changes is not False else [("changes", (key,))]
            )
        elif key in ("data", "changes"):
            items = []  # null: no change, not a column of empty cells
        else:
            items = [(str(key), (key,))]
        paths.update(items)  # a name already there keeps its place, as in a dict of cells
    return paths


def change_paths(key: Any, field: Any, inner: tuple | None) -> list[tuple[str, tuple]]:
    if inner is None:
        return [(f"changes.{field}", (key, field))]
    return [(f"changes.{field}.{name}", (key, field, name)) for name in inner]


def compiled_layout(paths: list[tuple | None]) -> Callable[[dict], tuple]:
    """record -> its values in column order (None where it has none), compiled from source
    (``lambda r: (r['id'], None, r['data']['city'])``): one Python call per record. Only when every
    key on the paths is a str, whose repr is a safe literal; else :func:`path_layout`."""
    if not paths:
        return lambda record: ()
    if not all(type(key) is str for path in paths if path for key in path):
        return path_layout(paths)
    cells = ", ".join("r" + "".join(f"[{key!r}]" for key in path) if path else "None" for path in paths)
    return eval(f"lambda r: ({cells},)", {"__builtins__": {}})  # only reprs of str keys go in


def path_layout(paths: list[tuple | None]) -> Callable[[dict], tuple]:
    """record -> its values in column order, found by walking ``paths``."""
    return lambda record: tuple(dig(record, path) if path else None for path in paths)


def dig(record: dict, path: tuple) -> Any:
    value: Any = record
    for key in path:
        value = value[key]
    return value


def rows_text(rows: list[tuple], width: int) -> str:
    """CSV text of rows of ``width`` cells each, with a line end after each."""
    if width == 0:
        return "\n" * len(rows)
    columns = list(map(column_text, zip(*rows)))
    if width == 1:  # csv's rule: a row of one empty cell is written "" (an empty line would be no cell)
        columns = [[text or '""' for text in columns[0]]]
    return "\n".join(map(",".join, zip(*columns))) + "\n"


def rewrite_rows(spool: IO[bytes], sink: IO[bytes], rows: int, width: int) -> None:
    """``rows`` spooled rows from the spool's position, padded to ``width`` cells, written by csv."""
    source = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    target = io.TextIOWrapper(sink, encoding="utf-8", newline="", write_through=True)
    try:
        writer = csv.writer(target, lineterminator="\n")
        for row in islice(csv.reader(source), rows):
            writer.writerow(row + [""] * (width - len(row)))
        target.flush()
    finally:
        source.detach()  # both files belong to the caller: do not let the wrappers close them
        target.detach()


def copy_bytes(source: IO[bytes], target: IO[bytes], size: int) -> None:
    while size > 0:
        chunk = source.read(min(size, COPY_CHUNK))
        if not chunk:
            raise OSError("the spool file ended early")
        target.write(chunk)
        size -= len(chunk)


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
