"""Report sections: the JSON contract between a domain's pipeline and the report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sciml.errors import DataError
from sciml.io import read_json_object, write_json_atomic


@dataclass
class Table:
    """A metrics table: ``rows`` are lists aligned with ``columns``."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""


@dataclass
class Figure:
    """A PNG or SVG file; ``path`` is relative to the section file's folder (or absolute)."""

    title: str
    path: str
    caption: str = ""


@dataclass
class Section:
    """One domain's part of the report.

    ``warnings`` carries what a scientist must not miss (e.g. "12 records quarantined,
    see quarantine.csv"); ``provenance`` lists provenance.json files (relative to the
    section file) whose config, seeds, checksums, versions and timings are shown.
    """

    domain: str
    title: str
    summary: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    provenance: list[str] = field(default_factory=list)


def write_section(path: str | Path, section: Section) -> Path:
    """Write ``section`` as JSON (atomically)."""
    return write_json_atomic(path, asdict(section))


def _kind(value: Any) -> str:
    """The JSON name of ``value``'s type, for error messages."""
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _text(path: Path, value: Any, where: str) -> str:
    """``value`` if it is text, else a DataError naming ``path`` and the field ``where``."""
    if not isinstance(value, str):
        raise DataError(path, f"not a valid report section ('{where}' must be text, got {_kind(value)})")
    return value


def _optional_text(path: Path, value: Any, where: str) -> str:
    """An optional text field: "" for null, else as :func:`_text`."""
    return "" if value is None else _text(path, value, where)


def _list(path: Path, value: Any, where: str) -> list[Any]:
    """``value`` if it is a list, else a DataError naming ``path`` and the field ``where``."""
    if not isinstance(value, list):
        raise DataError(path, f"not a valid report section ('{where}' must be a list, got {_kind(value)})")
    return value


def _object(path: Path, value: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """``value`` if it is an object with only the ``allowed`` keys, else a DataError naming ``path``."""
    if not isinstance(value, dict):
        raise DataError(path, f"not a valid report section ('{where}' must be an object, got {_kind(value)})")
    extra = sorted(str(k) for k in value if k not in allowed)
    if extra:
        raise DataError(path, f"not a valid report section ('{where}' has unknown field(s) {', '.join(extra)})")
    return value


def _table(path: Path, raw: Any, i: int) -> Table:
    """Table ``i`` of a section file, its fields' types checked."""
    where = f"tables[{i}]"
    t = _object(path, raw, where, ("title", "columns", "rows", "note"))
    for k in ("title", "columns", "rows"):
        if k not in t:
            raise DataError(path, f"not a valid report section ('{where}' lacks '{k}')")
    columns = _list(path, t["columns"], f"{where}.columns")
    rows = _list(path, t["rows"], f"{where}.rows")
    for j, row in enumerate(rows):
        _list(path, row, f"{where}.rows[{j}]")
    return Table(_text(path, t["title"], f"{where}.title"), columns, rows,
                 _optional_text(path, t.get("note", ""), f"{where}.note"))


def _figure(path: Path, raw: Any, i: int) -> Figure:
    """Figure ``i`` of a section file, its fields' types checked."""
    where = f"figures[{i}]"
    f = _object(path, raw, where, ("title", "path", "caption"))
    for k in ("title", "path"):
        if k not in f:
            raise DataError(path, f"not a valid report section ('{where}' lacks '{k}')")
    return Figure(_text(path, f["title"], f"{where}.title"), _text(path, f["path"], f"{where}.path"),
                  _optional_text(path, f.get("caption", ""), f"{where}.caption"))


def read_section(path: str | Path) -> Section:
    """Read a section file written by :func:`write_section`.

    Raises :class:`~sciml.errors.DataError` naming the file when it is missing, unreadable, not
    JSON, or a field has the wrong type (e.g. a table's ``rows`` that is not a list of lists)."""
    path = Path(path)
    raw = read_json_object(path, "report section", "did the domain's pipeline run?")
    for k in ("domain", "title"):
        if k not in raw:
            raise DataError(path, f"not a valid report section (lacks '{k}')")
    return Section(
        domain=_text(path, raw["domain"], "domain"),
        title=_text(path, raw["title"], "title"),
        summary=_optional_text(path, raw.get("summary", ""), "summary"),
        tables=[_table(path, t, i) for i, t in enumerate(_list(path, raw.get("tables", []), "tables"))],
        figures=[_figure(path, f, i) for i, f in enumerate(_list(path, raw.get("figures", []), "figures"))],
        warnings=[_text(path, w, f"warnings[{i}]")
                  for i, w in enumerate(_list(path, raw.get("warnings", []), "warnings"))],
        provenance=[_text(path, p, f"provenance[{i}]")
                    for i, p in enumerate(_list(path, raw.get("provenance", []), "provenance"))],
    )
