"""Report sections: the JSON contract between a domain's pipeline and the report."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sciml.errors import DataError
from sciml.io import write_json_atomic


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


def read_section(path: str | Path) -> Section:
    """Read a section file written by :func:`write_section`."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Section(
            domain=raw["domain"],
            title=raw["title"],
            summary=raw.get("summary", ""),
            tables=[Table(**t) for t in raw.get("tables", [])],
            figures=[Figure(**f) for f in raw.get("figures", [])],
            warnings=list(raw.get("warnings", [])),
            provenance=list(raw.get("provenance", [])),
        )
    except FileNotFoundError:
        raise DataError(path, "report section not found (did the domain's pipeline run?)") from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise DataError(path, f"not a valid report section ({exc})") from None
    except OSError as exc:
        raise DataError(path, f"cannot read the report section ({exc})") from None
