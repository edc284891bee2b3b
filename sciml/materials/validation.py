"""Record validation and the quarantine file.

A record is rejected (and written with its reason to the quarantine CSV, never silently
dropped) when: the structure did not parse, or its lattice or coordinates are not finite, or
the cell has (nearly) no volume; the target is NaN/inf; a site is disordered
or an element lies outside the model's embedding (Z > ``max_z``); two atoms are closer
than ``min_distance`` (A); an atom has no neighbour inside the graph cutoff.

The quarantine CSV's columns (:data:`QUARANTINE_COLUMNS`): ``id``; ``line``, the 1-based line of the
user's file where the record starts (a CSV row's first line, header counted; an XYZ frame's
atom-count line; a folder's record: the line of its ``id_prop.csv`` row), empty where the input has no
lines for a record (Matbench JSON: the id is the mbid; a structure file of a folder without an
``id_prop.csv`` row, or read for screening: the id is the file name without suffix; a binary ASE
``.traj``); ``reason``. Screening's ``skipped.csv`` has the same columns.

A structure that parses with parser warnings (pymatgen's CIF issues: coordinates rounded, sites
merged, occupancies changed) is kept; :class:`ParserWarnings` counts and lists those records.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sciml.io import CsvSpool, write_csv_atomic
from sciml.materials.graphs import CrystalGraph, GraphSettings, site_elements, structure_graph
from sciml.materials.readers import RawRecord

#: Largest atomic number the models embed (H..Fm); heavier elements are quarantined.
DEFAULT_MAX_Z = 100
#: ``line``: 1-based line of the record in the user's file, empty where the format has no lines (see above).
QUARANTINE_COLUMNS = ["id", "line", "reason"]
#: Columns of ``parser_warnings.csv``: one row per warning of a kept or quarantined record.
PARSER_WARNING_COLUMNS = ["id", "line", "warning"]


@dataclass
class Rejection:
    """A quarantined record: its id, position in the source file and the reason."""

    id: str
    line: int | None
    reason: str

    @property
    def category(self) -> str:
        return self.reason.split(":", 1)[0]


@dataclass
class Quarantine:
    """Collects rejections; ``write`` stores them as CSV (id, line, reason).

    With ``spool`` (a :class:`sciml.io.CsvSpool` on the CSV's path), each rejection goes to disk as it
    comes and only the counts stay in memory (screening: memory flat in the number of rejections);
    ``items`` then stays empty and :meth:`write` commits the spool.
    """

    items: list[Rejection] = field(default_factory=list)
    spool: CsvSpool | None = None
    _categories: Counter = field(default_factory=Counter, repr=False)

    def __post_init__(self) -> None:
        self._categories.update(r.category for r in self.items)

    def add(self, record: RawRecord, reason: str) -> None:
        rejection = Rejection(record.id, record.line, reason)
        self._categories[rejection.category] += 1
        if self.spool is not None:
            self.spool.write(_quarantine_row(rejection))
        else:
            self.items.append(rejection)

    def __len__(self) -> int:
        return sum(self._categories.values())

    def counts(self) -> dict[str, int]:
        """Number of rejections per reason category."""
        return dict(sorted(self._categories.items()))

    def rows(self) -> list[list]:
        """``[id, line ('' when unknown), reason]`` per rejection held in memory (the CSV rows)."""
        return [_quarantine_row(r) for r in self.items]

    def write(self, path: str | Path) -> Path:
        """Write the quarantine CSV (``id,line,reason``) atomically (a spool is committed onto its own path)."""
        if self.spool is not None:
            if Path(path) != self.spool.path:
                raise ValueError(f"the quarantine spools to {self.spool.path}, not {path}")
            return self.spool.commit()
        return write_csv_atomic(path, QUARANTINE_COLUMNS, self.rows())


def _quarantine_row(r: Rejection) -> list[Any]:
    return [r.id, "" if r.line is None else r.line, r.reason]


def warning_kind(message: str) -> str:
    """``message`` with its numbers replaced by ``<n>`` (at most 200 characters): pymatgen's
    "4 fractional coordinates rounded..." and "8 fractional coordinates rounded..." are one kind."""
    kind = re.sub(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", "<n>", message)
    return kind if len(kind) <= 200 else kind[:197] + "..."


@dataclass
class ParserWarnings:
    """The records whose structure parsed with warnings (kept: a warning is not a rejection).

    ``items`` holds ``[id, line, [warning, ...]]`` per record (what the graph caches store);
    :meth:`summary` gives the count and the distinct kinds, :meth:`write` the CSV (one row a warning).
    With ``spool`` (a :class:`sciml.io.CsvSpool`), rows go to disk as they come and ``items`` stays
    empty, as for :class:`Quarantine`.
    """

    items: list[list[Any]] = field(default_factory=list)
    spool: CsvSpool | None = None
    _kinds: Counter = field(default_factory=Counter, repr=False)
    _n: int = 0

    def __post_init__(self) -> None:
        self._n = len(self.items)
        self._kinds.update(kind for _, _, messages in self.items for kind in {warning_kind(m) for m in messages})

    def add(self, record: RawRecord) -> None:
        """Note ``record``'s parser warnings, if it has any."""
        if not record.parser_warnings:
            return
        self._n += 1
        self._kinds.update({warning_kind(m) for m in record.parser_warnings})
        if self.spool is not None:
            for row in _warning_rows(record.id, record.line, record.parser_warnings):
                self.spool.write(row)
        else:
            self.items.append([record.id, record.line, list(record.parser_warnings)])

    def tap(self, records: Iterable[RawRecord]) -> Iterator[RawRecord]:
        """``records`` as they stream by, each noted with :meth:`add` (no second parse)."""
        for record in records:
            self.add(record)
            yield record

    def __len__(self) -> int:
        return self._n

    def counts(self) -> dict[str, int]:
        """Records per warning kind (:func:`warning_kind`), most frequent first."""
        return dict(sorted(self._kinds.items(), key=lambda kv: (-kv[1], kv[0])))

    def summary(self) -> dict[str, Any]:
        """``n_records_with_parser_warnings`` and ``parser_warnings`` (kind -> records), for summaries."""
        return {"n_records_with_parser_warnings": len(self), "parser_warnings": self.counts()}

    def rows(self) -> list[list[Any]]:
        """``[id, line ('' when unknown), warning]`` per warning held in memory (the CSV rows)."""
        return [row for rid, line, messages in self.items for row in _warning_rows(rid, line, messages)]

    def write(self, path: str | Path) -> Path:
        """Write ``parser_warnings.csv`` (``id,line,warning``) atomically (a spool is committed instead)."""
        if self.spool is not None:
            if Path(path) != self.spool.path:
                raise ValueError(f"the parser warnings spool to {self.spool.path}, not {path}")
            return self.spool.commit()
        return write_csv_atomic(path, PARSER_WARNING_COLUMNS, self.rows())


def _warning_rows(rid: str, line: int | None, messages: Iterable[str]) -> list[list[Any]]:
    return [[rid, "" if line is None else line, m] for m in messages]


def describe_parser_warnings(summary: dict[str, Any], n_records: int, where: str, top: int = 5) -> str | None:
    """One report/console line on the records whose structure parsed with warnings (None when there are none):
    how many of ``n_records``, the most frequent kinds with their counts, and ``where`` they are listed."""
    n = int(summary.get("n_records_with_parser_warnings") or 0)
    if not n:
        return None
    kinds = list(summary.get("parser_warnings", {}).items())
    shown = "; ".join(f"{k} ({v})" for k, v in kinds[:top])
    if len(kinds) > top:
        shown += f"; {len(kinds) - top} more kinds"
    return (f"{n} of {n_records} structures parsed with parser warnings ({shown}); a warning alone does not "
            f"reject a structure (some may be rejected for other reasons); see {where}")


#: Distinct ids :class:`DuplicateIds` remembers (about 100 MB of strings); later new ids are not checked.
MAX_TRACKED_IDS = 1_000_000


@dataclass
class DuplicateIds:
    """Counts the records of a stream whose id repeats an earlier one (``predict``: each is still scored,
    so the predictions hold two rows with that id). Memory is bounded: the first ``limit`` distinct ids
    are remembered; an id first seen after that is not checked, and :meth:`summary` says so."""

    limit: int = MAX_TRACKED_IDS
    n: int = 0
    examples: list[str] = field(default_factory=list)
    complete: bool = True
    _seen: set[str] = field(default_factory=set, repr=False)

    def add(self, rid: str) -> None:
        """Note one record's id."""
        if rid in self._seen:
            self.n += 1
            if len(self.examples) < 5:
                self.examples.append(rid)
        elif len(self._seen) < self.limit:
            self._seen.add(rid)
        else:
            self.complete = False

    def tap(self, records: Iterable[RawRecord]) -> Iterator[RawRecord]:
        """``records`` as they stream by, each id noted with :meth:`add`."""
        for record in records:
            self.add(record.id)
            yield record

    def summary(self) -> dict[str, Any]:
        """``n_duplicate_ids`` (records repeating an earlier id), up to 5 ``duplicate_ids``, and
        ``duplicate_check_complete`` (False when more distinct ids came than were remembered)."""
        return {"n_duplicate_ids": self.n, "duplicate_ids": list(self.examples),
                "duplicate_check_complete": self.complete}

    def describe(self) -> str | None:
        """A warning line, or None when no repeat was found and every id was checked."""
        text = None
        if self.n:
            text = (f"{self.n} record(s) repeat the id of an earlier record (e.g. {', '.join(self.examples)}); "
                    "each was scored, so the predictions have several rows with that id")
        if not self.complete:
            text = (text + "; " if text else "") + (f"ids were checked for repeats among the first {self.limit} "
                                                   "distinct ids only")
        return text


#: Smallest cell volume (A^3) taken as a lattice; below it the lattice vectors are (nearly) coplanar.
MIN_CELL_VOLUME = 1e-3


def _geometry_problem(structure: Any) -> str | None:
    """Why the lattice or coordinates of ``structure`` (pymatgen ``Structure`` or
    :class:`~sciml.materials.readers.CrystalArrays`) cannot make a graph, or None: non-finite
    numbers (pymatgen accepts NaN, and the neighbour search then finds no neighbours) or a
    flat cell (the neighbour search divides by its volume)."""
    from sciml.materials.readers import CrystalArrays

    if isinstance(structure, CrystalArrays):
        matrix, frac = structure.lattice_matrix, structure.frac_coords
    else:
        matrix, frac = structure.lattice.matrix, structure.frac_coords
    matrix, frac = np.asarray(matrix, dtype=np.float64), np.asarray(frac, dtype=np.float64)
    if not np.isfinite(matrix).all():
        return "non-finite lattice (NaN or inf in the lattice vectors)"
    if not np.isfinite(frac).all():
        return "non-finite coordinates (NaN or inf in the site coordinates)"
    volume = abs(float(np.linalg.det(matrix)))
    if volume < MIN_CELL_VOLUME:
        return f"degenerate lattice: cell volume {volume:.3g} A^3 (the lattice vectors are (nearly) coplanar)"
    return None


#: Reasons a reader gives itself, with their category (a record without an id, a structure file without a
#: target row): kept as they are rather than filed as ``unparsable``.
READER_CATEGORIES = ("bad_id", "no_target")


def missing_structure_reason(record: RawRecord) -> str:
    """The quarantine reason of a record without a structure: the reader's own categorised reason
    (:data:`READER_CATEGORIES`), else ``unparsable:`` and the parse error."""
    error = record.error or "no structure"
    if error.split(":", 1)[0] in READER_CATEGORIES:
        return error
    return f"unparsable: {error}"


def check_record(record: RawRecord, settings: GraphSettings, max_z: int = DEFAULT_MAX_Z,
                 min_distance: float = 0.5, need_target: bool = True) -> tuple[CrystalGraph | None, str | None]:
    """Validate one record and build its graph.

    Returns ``(graph, None)`` for a good record, ``(None, reason)`` otherwise; reasons
    start with a category (``unparsable``, ``bad_target``, ``element``, ``too_close``,
    ``isolated_atom``) followed by ``:`` and details.
    """
    if record.structure is None:
        return None, missing_structure_reason(record)
    geometry = _geometry_problem(record.structure)
    if geometry is not None:
        return None, f"unparsable: {geometry}"
    if need_target and (record.target is None or not math.isfinite(record.target)):
        if record.target_note and (record.target is None or math.isnan(record.target)):
            return None, f"bad_target: {record.target_note} (must be a finite number)"
        return None, f"bad_target: target is {record.target!r} (must be a finite number)"
    try:
        zs = site_elements(record.structure)
    except ValueError as exc:
        return None, f"element: {exc}"
    bad = sorted({z for z in zs if z < 1 or z > max_z})
    if bad:
        return None, f"element: atomic number(s) {bad} outside the model embedding 1..{max_z}"
    try:
        graph = structure_graph(record.structure, settings, z=zs)
    except Exception as exc:  # pymatgen neighbour search on a degenerate lattice
        return None, f"unparsable: neighbour search failed ({type(exc).__name__}: {str(exc)[:120]})"
    if graph.min_distance < min_distance:
        return None, f"too_close: atoms {graph.min_distance:.3f} A apart (< {min_distance} A)"
    if graph.isolated:
        return None, f"isolated_atom: {graph.isolated} atom(s) with no neighbour within {settings.cutoff} A"
    return graph, None
