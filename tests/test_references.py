"""Every reference to the documentation resolves.

Walks the package, the tests, the example DAGs, the benchmarks, README.md and docs/, and fails on a
dangling reference, listing each one as ``file:line: what is wrong``:

- ``docs/<path>.md`` must name a file that exists. A section title after it
  (``docs/design.md, "Waiting"``, several joined by commas or "and") must be a heading of that file;
  section numbers after it (``docs/vendors/datafold.md §2.14``, ``§4.2, §4.4``, ``§1-§4``,
  ``sections 2, 4 and 10``) must be numbered headings of it (``## 2. ...``, ``### 2.14 ...``).
- A bare ``§N`` refers to the vendor notes named last before it in the same file
  (``vendors/<vendor>.md``), else to the vendor the file is named after (``hooks/datafold.py``), and
  must be a numbered heading there. Inside a markdown link's text, the link is checked instead.
- Every relative link of README.md and docs/ (``[text](path#anchor)``) must reach a file that
  exists, and its anchor a heading of that file (GitHub's heading slugs).
- The design notes and vendor notes that used to live outside the repository are not to be cited
  any more: any mention of them fails (``OLD_REFERENCES`` below).

Only this file is left out of the walk: it spells the patterns it looks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WALKED = ("airflow_provider_monitoring", "tests", "example_dags", "benchmarks", "docs", "README.md")
TEXT_SUFFIXES = {".py", ".md", ".txt", ".rst", ".toml", ".cfg", ".ini", ".yaml", ".yml", ".json", ".pyi"}
SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
VENDORS = ("encrata", "diligent", "datafold")

# The out-of-repo files the code used to cite (the design notes and the per-vendor API notes, with
# the vendor pages they were compiled from). Built from parts so this module does not cite them.
_OLD_DESIGN = "DESIGN" + r"\.md"
_OLD_NOTES = r"\bapi/(?:" + "|".join(VENDORS) + r")\.md"
_OLD_SEEDS = r"\bapi/seeds\b"
OLD_REFERENCES = re.compile(f"{_OLD_DESIGN}|{_OLD_NOTES}|{_OLD_SEEDS}")

DOC_REF = re.compile(r"(?<![\w./-])(?:\./)?docs/((?:[\w.-]+/)*[\w.-]+\.md)")
NUMBER = r"\d+(?:\.\d+)*(?:[a-z](?![A-Za-z]))?"
SECTION_SIGN = re.compile(rf"§\s?({NUMBER})")
VENDOR_NOTES = re.compile(r"(?:vendors|api)/(" + "|".join(VENDORS) + r")\.md")
# Between the parts of one reference: spaces, and at most one line break (a wrapped comment).
SEP = r"[ \t]*(?:\n[ \t]*(?:#[ \t]*)?)?"
TITLE_PART = re.compile(rf"{SEP}(?:(?:,|;|and|or|&){SEP})?\"([^\"\n]+)\"")
SECTION_PART = re.compile(rf"{SEP}(?:(,|;|and|[-–]){SEP})?§\s?({NUMBER})")
SECTION_WORDS = re.compile(rf"{SEP},?{SEP}sections?[ \t]+({NUMBER}(?:{SEP}(?:,|and){SEP}{NUMBER})*)")
HEADING_NUMBER = re.compile(rf"^({NUMBER})\.?(?:\s|$)")

FENCE = re.compile(r"^[ \t]*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
LINK_DEFINITION = re.compile(r"^[ \t]{0,3}\[[^\]]+\]:[ \t]*<?(\S+?)>?(?:[ \t]+.*)?$", re.M)
SCHEME = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    what: str

    def render(self, root: Path) -> str:
        try:
            shown = self.path.relative_to(root)
        except ValueError:
            shown = self.path
        return f"{shown}:{self.line}: {self.what}"


# ---- the files ---------------------------------------------------------------------------------


def walked_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for name in WALKED:
        top = root / name
        if top.is_file():
            found.append(top)
        elif top.is_dir():
            for path in sorted(top.rglob("*")):
                if (path.is_file() and path.suffix in TEXT_SUFFIXES
                        and not SKIPPED_DIRS.intersection(path.relative_to(root).parts)):
                    found.append(path)
    this = Path(__file__).resolve()
    return [path for path in found if path.resolve() != this]


@lru_cache(maxsize=None)
def read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def blank(text: str, start: int, end: int) -> str:
    """``text`` with [start, end) replaced by spaces, line breaks kept (offsets stay valid)."""
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def without_fences(markdown: str) -> str:
    """Fenced code blocks blanked out: their lines are neither headings nor links."""
    out, fence = [], None
    for line in markdown.splitlines(keepends=True):
        opener = FENCE.match(line)
        if fence is None and opener:
            fence = opener.group(1)
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        else:
            out.append(line if fence is None else re.sub(r"[^\n]", " ", line))
            continue
        out.append(re.sub(r"[^\n]", " ", line))
    return "".join(out)


def without_code(markdown: str) -> str:
    """Fenced blocks and inline code spans blanked out."""
    text = without_fences(markdown)
    for match in reversed(list(INLINE_CODE.finditer(text))):
        text = blank(text, match.start(), match.end())
    return text


# ---- headings -------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def heading_texts(path: Path) -> tuple[str, ...]:
    texts = []
    for line in without_fences(read(path)).splitlines():
        match = re.match(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$", line)
        if match:
            texts.append(match.group(2).strip())
    return tuple(texts)


def plain(heading: str) -> str:
    """A heading as rendered text: link targets, code ticks and emphasis stars dropped."""
    heading = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    return heading.replace("`", "").replace("*", "")


def normalised(title: str) -> str:
    return " ".join(plain(title).split()).casefold()


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped (letters, digits, ``_``,
    ``-`` and spaces kept), spaces turned into hyphens."""
    text = plain(heading).strip().lower()
    text = "".join(char for char in text if char.isalnum() or char in "_- ")
    return text.replace(" ", "-")


@lru_cache(maxsize=None)
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in heading_texts(path):
        slug = github_slug(heading)
        count = seen.get(slug, 0)
        found.add(slug if count == 0 else f"{slug}-{count}")
        seen[slug] = count + 1
    return frozenset(found)


@lru_cache(maxsize=None)
def titles(path: Path) -> frozenset[str]:
    return frozenset(normalised(heading) for heading in heading_texts(path))


@lru_cache(maxsize=None)
def section_numbers(path: Path) -> frozenset[str]:
    numbers = set()
    for heading in heading_texts(path):
        match = HEADING_NUMBER.match(plain(heading).strip())
        if match:
            numbers.add(match.group(1))
    return frozenset(numbers)


def numbers_between(first: str, last: str) -> list[str]:
    """§1-§4 means §1, §2, §3 and §4 when both ends are whole sections; otherwise the two ends."""
    if first.isdigit() and last.isdigit() and int(first) <= int(last):
        return [str(n) for n in range(int(first), int(last) + 1)]
    return [first, last]


# ---- the checks -----------------------------------------------------------------------------------


def check_doc_references(root: Path, path: Path) -> tuple[list[Problem], set[int]]:
    """``docs/...md`` references and what follows them; also the offsets of the § signs they used."""
    text = read(path)
    problems: list[Problem] = []
    used: set[int] = set()
    for match in DOC_REF.finditer(text):
        if text[max(0, match.start() - 2):match.start()] == "](":
            continue  # a markdown link's target: the link check covers it
        line = line_of(text, match.start())
        target = root / "docs" / match.group(1)
        shown = f"docs/{match.group(1)}"
        if not target.is_file():
            problems.append(Problem(path, line, f"{shown} does not exist"))
            continue
        position = match.end()
        while position < len(text) and text[position] in "`*":
            position += 1
        wanted_titles: list[str] = []
        wanted_numbers: list[str] = []
        words = SECTION_WORDS.match(text, position)
        if words:
            wanted_numbers += re.findall(NUMBER, words.group(1))
            position = words.end()
        while True:
            title = TITLE_PART.match(text, position)
            if title:
                wanted_titles.append(title.group(1))
                position = title.end()
                continue
            section = SECTION_PART.match(text, position)
            if section:
                used.add(text.index("§", section.start()))
                joiner, number = section.group(1), section.group(2)
                if joiner in ("-", "–") and wanted_numbers:
                    wanted_numbers += numbers_between(wanted_numbers.pop(), number)
                else:
                    wanted_numbers.append(number)
                position = section.end()
                continue
            break
        for title in wanted_titles:
            if normalised(title) not in titles(target):
                problems.append(Problem(path, line, f'{shown} has no heading "{title}"'))
        for number in dict.fromkeys(wanted_numbers):
            if number not in section_numbers(target):
                problems.append(Problem(path, line, f"{shown} has no section §{number}"))
    return problems, used


def link_text_spans(path: Path) -> list[tuple[int, int]]:
    """Where markdown links' texts are (for .md files): a § there is checked through the link."""
    if path.suffix != ".md":
        return []
    return [match.span(1) for match in LINK.finditer(without_fences(read(path)))]


def vendor_of_file(root: Path, path: Path) -> str | None:
    relative = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    if relative.startswith("docs/vendors/") and path.stem in VENDORS:
        return path.stem
    named = [vendor for vendor in VENDORS if vendor in path.stem]
    return named[0] if len(named) == 1 else None


def check_bare_sections(root: Path, path: Path, used: set[int]) -> list[Problem]:
    text = read(path)
    problems = []
    in_links = link_text_spans(path)
    own_vendor = vendor_of_file(root, path)
    is_vendor_notes = path.parent == root / "docs" / "vendors"
    mentions = [(match.start(), match.group(1)) for match in VENDOR_NOTES.finditer(text)]
    for match in SECTION_SIGN.finditer(text):
        if match.start() in used or any(start <= match.start() < end for start, end in in_links):
            continue
        earlier = [vendor for start, vendor in mentions if start < match.start()]
        vendor = own_vendor if is_vendor_notes else (earlier[-1] if earlier else own_vendor)
        line = line_of(text, match.start())
        if vendor is None:
            problems.append(Problem(path, line, f"§{match.group(1)}: no vendor notes (docs/vendors/<vendor>.md) "
                                                "are named before it in this file, and the file name names no vendor"))
            continue
        notes = root / "docs" / "vendors" / f"{vendor}.md"
        if not notes.is_file():
            problems.append(Problem(path, line, f"§{match.group(1)} refers to docs/vendors/{vendor}.md, "
                                                "which does not exist"))
        elif match.group(1) not in section_numbers(notes):
            problems.append(Problem(path, line, f"§{match.group(1)}: docs/vendors/{vendor}.md has no such section"))
    return problems


def check_links(root: Path, path: Path) -> list[Problem]:
    if path.suffix != ".md":
        return []
    text = without_code(read(path))
    targets = [(match.start(), match.group(2)) for match in LINK.finditer(text)]
    targets += [(match.start(), match.group(1)) for match in LINK_DEFINITION.finditer(text)]
    problems = []
    for offset, target in sorted(targets):
        if not target or SCHEME.match(target):
            continue
        line = line_of(text, offset)
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            problems.append(Problem(path, line, f"link to {target}: {file_part} does not exist"))
            continue
        if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(Problem(path, line, f"link to {target}: no heading of {resolved.name} has the anchor #{anchor}"))
    return problems


def check_old_references(path: Path) -> list[Problem]:
    text = read(path)
    return [
        Problem(path, line_of(text, match.start()),
                f"{match.group(0)} lived outside the repository; cite docs/design.md or docs/vendors/<vendor>.md")
        for match in OLD_REFERENCES.finditer(text)
    ]


def dangling_references(root: Path) -> list[str]:
    problems: list[Problem] = []
    for path in walked_files(root):
        found, used = check_doc_references(root, path)
        problems += found
        problems += check_bare_sections(root, path, used)
        problems += check_links(root, path)
        problems += check_old_references(path)
    unique = dict.fromkeys(problems)
    return [problem.render(root) for problem in sorted(unique, key=lambda p: (str(p.path), p.line, p.what))]


# ---- the tests ------------------------------------------------------------------------------------


def test_no_dangling_references():
    problems = dangling_references(ROOT)
    assert not problems, f"{len(problems)} dangling reference(s):\n" + "\n".join(problems)


def test_the_docs_exist():
    for name in ("design.md", "sandbox.md", "vendors/encrata.md", "vendors/diligent.md", "vendors/datafold.md"):
        assert (ROOT / "docs" / name).is_file(), f"docs/{name} is missing"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "docs" / "vendors").mkdir(parents=True)
    (tmp_path / "docs" / "design.md").write_text(
        "# Design\n\n## Run outcome\n\n## Durable, never-twice runs\n\n```bash\n# Not a heading\n```\n"
        "See [the notes](vendors/datafold.md#214-get-one-run-get-runs) and [gone](missing.md).\n"
        "Also [bad anchor](#nowhere) and [fine](#run-outcome) and `[code](nowhere.md)` and [fence](#not-a-heading).\n"
    )
    (tmp_path / "docs" / "vendors" / "datafold.md").write_text(
        "# Datafold\n\n## 2. Monitors\n\n### 2.14 Get one run: `GET /runs`\n\n## 9. Open questions\n\n"
        "### 9.2 Null state\n\nSee §2.14 and §3.\n"
    )
    package = tmp_path / "airflow_provider_monitoring"
    (package / "hooks").mkdir(parents=True)
    (package / "hooks" / "datafold.py").write_text(
        '"""Against docs/vendors/datafold.md §1-§2 and §9.2, and docs/vendors/datafold.md §2.14."""\n'
        "# (docs/design.md, \"Run outcome\" and \"Waiting\"); bare §9.2 and §7\n"
        "# see docs/design.md,\n# \"Durable, never-twice runs\" and docs/nope.md\n"
    )
    (package / "shared.py").write_text(
        "# docs/vendors/datafold.md, sections 2, 9 and 10\n# §9.2 after it is datafold's\n"
        "OLD = 'see " + "DESIGN" + ".md and api/" + "encrata.md'\n"
    )
    (package / "loose.py").write_text("# §4 with no vendor in sight\n")
    (tmp_path / "README.md").write_text("# Readme\n\n[Design](docs/design.md#run-outcome) [x](docs/design.md#waiting)\n")
    return tmp_path


def test_the_checker_reports_each_dangling_reference_with_its_line(tree: Path):
    assert dangling_references(tree) == [
        "README.md:3: link to docs/design.md#waiting: no heading of design.md has the anchor #waiting",
        "airflow_provider_monitoring/hooks/datafold.py:1: docs/vendors/datafold.md has no section §1",
        'airflow_provider_monitoring/hooks/datafold.py:2: docs/design.md has no heading "Waiting"',
        "airflow_provider_monitoring/hooks/datafold.py:2: §7: docs/vendors/datafold.md has no such section",
        "airflow_provider_monitoring/hooks/datafold.py:4: docs/nope.md does not exist",
        "airflow_provider_monitoring/loose.py:1: §4: no vendor notes (docs/vendors/<vendor>.md) are named before "
        "it in this file, and the file name names no vendor",
        "airflow_provider_monitoring/shared.py:1: docs/vendors/datafold.md has no section §10",
        "airflow_provider_monitoring/shared.py:3: " + "DESIGN" + ".md lived outside the repository; "
        "cite docs/design.md or docs/vendors/<vendor>.md",
        "airflow_provider_monitoring/shared.py:3: api/" + "encrata.md lived outside the repository; "
        "cite docs/design.md or docs/vendors/<vendor>.md",
        "docs/design.md:10: link to missing.md: missing.md does not exist",
        "docs/design.md:11: link to #not-a-heading: no heading of design.md has the anchor #not-a-heading",
        "docs/design.md:11: link to #nowhere: no heading of design.md has the anchor #nowhere",
        "docs/vendors/datafold.md:11: §3: docs/vendors/datafold.md has no such section",
    ]


@pytest.mark.parametrize("heading, slug", [
    ("Retries and crashes", "retries-and-crashes"),
    ("Durable, never-twice runs", "durable-never-twice-runs"),
    ("2.14 Get one run: `GET /api/v1/monitors/{id}/runs/{run_id}`", "214-get-one-run-get-apiv1monitorsidrunsrun_id"),
    ("HTTP behaviour (all vendors, tasks and triggers alike)", "http-behaviour-all-vendors-tasks-and-triggers-alike"),
    ("8. GET /monitoring-executions: list monitoring runs", "8-get-monitoring-executions-list-monitoring-runs"),
])
def test_github_slugs(heading: str, slug: str):
    assert github_slug(heading) == slug
