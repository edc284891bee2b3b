"""Readers: structure files -> a stream of :class:`RawRecord`.

Four layouts users already have:

- Matbench JSON "split" layout (``index`` / ``columns`` / ``data``, structure = pymatgen dict);
- CSV (optionally gzipped, leading ``#`` comment lines allowed as in the matminer files)
  with a structure column holding CIF text, POSCAR text or a pymatgen dict (JSON or a
  Python literal, parsed with ``ast.literal_eval`` -- never ``eval``);
- a folder of ``*.cif`` / ``POSCAR`` / ``*.vasp`` files plus ``id_prop.csv`` (``id,target``
  without header), the CGCNN/ALIGNN convention;
- a file ASE reads frame by frame (extended XYZ ``.extxyz``/``.xyz``, optionally compressed,
  or an ASE ``.traj``), through ``ase.io.iread``; ids and targets from each frame's ``info``.

With ``arrays=True`` (what screening uses) a record's structure is a :class:`CrystalArrays`
(lattice matrix, fractional coordinates, atomic numbers) instead of a pymatgen ``Structure``:
pymatgen dicts (JSON, Python literal or Matbench rows) are turned into arrays directly, without
building one pymatgen ``Site`` per atom, which was 3/4 of the screening time. Anything the
fast path does not recognise as a plain ordered structure (partial occupancy, several species
on a site, an unknown symbol, a missing key, non-finite numbers; CIF and POSCAR text) goes
through :func:`parse_structure` and is converted, so errors and validation stay pymatgen's.

Readers never raise on a bad *record*: a structure that does not parse is yielded with
``structure=None`` and ``error`` set, so validation can quarantine it. A structure that parses
with parser warnings (pymatgen's CIF issues: coordinates rounded, sites merged, occupancies
rescaled...) is kept, its warnings in ``parser_warnings`` (captured per record, never printed).

``RawRecord.line`` (the quarantine's ``line`` column) is the 1-based line of the user's file where
the record starts: for a CSV the line of its row (comment and header lines counted, a quoted field
over several lines counted as its lines), for an (extended) XYZ file the frame's atom-count line,
for a folder with ``id_prop.csv`` the line of the record's row there.
It is None (an empty cell) where the input has no lines for a record -- a Matbench JSON entry (the
id is its mbid), a file of a folder without an ``id_prop.csv`` row (the id is the file name without
suffix), a frame of a binary ASE ``.traj`` -- and the id locates the record there. A missing or
malformed *file* raises :class:`~sciml.errors.DataError`. Every reader streams (one record
in memory at a time); the Matbench JSON document is parsed incrementally with ijson.
"""

from __future__ import annotations

import ast
import csv
import functools
import gzip
import io
import json
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sciml.errors import DataError

STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar", ".json")


@dataclass
class RawRecord:
    """One input record: ``structure`` is a pymatgen ``Structure`` or None if it did not parse.

    ``target`` is the float target (None when the file has none, e.g. screening input;
    NaN when the value is missing or not a number). ``line`` is the 1-based line of the file where
    the record starts, None where the format has no lines for it (see the module docstring).
    ``target_note`` says why a NaN target is unusable when the reader knows more than "nan"
    (the original text ``'n/a'``, a missing extxyz info key), for the quarantine reason.
    ``parser_warnings``: the structure parser's warnings about this record (kept records too).
    """

    id: str
    structure: Any | None
    target: float | None
    error: str | None = None
    line: int | None = None
    target_note: str | None = None
    parser_warnings: tuple[str, ...] = ()


class CrystalArrays:
    """A periodic crystal as plain arrays (the fast readers' structure; what graphs need).

    ``lattice_matrix`` (3, 3) float64 rows = lattice vectors in A; ``frac_coords`` (n, 3)
    float64; ``z`` (n,) int64 atomic numbers; ``pbc`` periodic directions. ``lattice`` is the
    pymatgen ``Lattice`` (built on first use, as :func:`sciml.materials.graphs.structure_graph`
    reads it) and ``reduced_formula`` pymatgen's reduced formula of the composition.
    """

    __slots__ = ("lattice_matrix", "frac_coords", "z", "pbc", "_lattice")

    def __init__(self, lattice_matrix: Any, frac_coords: Any, z: Any, pbc: tuple[bool, bool, bool] = (True, True, True)):
        self.lattice_matrix = lattice_matrix
        self.frac_coords = frac_coords
        self.z = z
        self.pbc = tuple(bool(p) for p in pbc)
        self._lattice = None

    def __len__(self) -> int:
        return len(self.z)

    @property
    def lattice(self):
        """The pymatgen ``Lattice`` of ``lattice_matrix`` and ``pbc``."""
        if self._lattice is None:
            from pymatgen.core import Lattice

            self._lattice = Lattice(self.lattice_matrix, pbc=self.pbc)
        return self._lattice

    @property
    def reduced_formula(self) -> str:
        """pymatgen's ``Composition.reduced_formula`` of the sites (cached per composition)."""
        import numpy as np

        zs, counts = np.unique(self.z, return_counts=True)
        return _reduced_formula(tuple(zip(zs.tolist(), counts.tolist())))

    @classmethod
    def from_structure(cls, structure: Any) -> "CrystalArrays | Any":
        """Arrays of an ordered pymatgen ``Structure``; a disordered one is returned as it is
        (validation rejects it with pymatgen's reason)."""
        import numpy as np

        from pymatgen.core.periodic_table import DummySpecies

        if not structure.is_ordered:
            return structure
        try:
            if any(isinstance(site.specie, DummySpecies) for site in structure):
                return structure  # its Z is a hash of the symbol: validation names the symbol
            z = np.array([site.specie.Z for site in structure], dtype=np.int64)
        except AttributeError:  # no atomic number: leave it to validation
            return structure
        lat = structure.lattice
        return cls(np.array(lat.matrix, dtype=np.float64), np.array(structure.frac_coords, dtype=np.float64), z,
                   tuple(lat.pbc))


_SYMBOL_Z: dict[str, int] = {}


def _symbol_z() -> dict[str, int]:
    """Element symbol -> atomic number, from pymatgen's periodic table (built once)."""
    if not _SYMBOL_Z:
        from pymatgen.core.periodic_table import Element

        _SYMBOL_Z.update({e.symbol: int(e.Z) for e in Element})
    return _SYMBOL_Z


_FORMULAS: dict[tuple[tuple[int, int], ...], str] = {}


def _reduced_formula(counts: tuple[tuple[int, int], ...]) -> str:
    """pymatgen's reduced formula of ``((Z, count), ...)``; a cache, as candidate sets repeat compositions."""
    formula = _FORMULAS.get(counts)
    if formula is None:
        from pymatgen.core import Composition, Element

        formula = Composition({Element.from_Z(z): n for z, n in counts}).reduced_formula
        if len(_FORMULAS) < 1_000_000:
            _FORMULAS[counts] = formula
    return formula


def _arrays_from_dict(obj: Any) -> CrystalArrays | None:
    """Arrays straight from a pymatgen ``Structure.as_dict()`` mapping, or None when the dict is
    not a plain ordered structure (then the pymatgen path parses it and gives its errors).

    Reads what ``Structure.from_dict`` reads for the graph: ``lattice.matrix`` and
    ``lattice.pbc``, each site's ``abc`` and its single species with occupancy 1.
    """
    import numpy as np

    try:
        lattice = obj["lattice"]
        sites = obj["sites"]
        table = _symbol_z()
        zs, frac = [], []
        for site in sites:
            species = site["species"]
            if len(species) != 1:
                return None
            sp = species[0]
            z = table.get(sp["element"])
            # an oxidation state on a valid symbol is a pymatgen Species: same element
            if z is None or sp["occu"] != 1:
                return None
            zs.append(z)
            frac.append(site["abc"])
        matrix = np.array(lattice["matrix"], dtype=np.float64)
        coords = np.array(frac, dtype=np.float64)
        pbc = tuple(lattice.get("pbc", (True, True, True)))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None
    if not zs or matrix.shape != (3, 3) or coords.shape != (len(zs), 3) or len(pbc) != 3:
        return None
    if not (np.isfinite(matrix).all() and np.isfinite(coords).all()):
        return None
    return CrystalArrays(matrix, coords, np.array(zs, dtype=np.int64), pbc)


def parse_structure_arrays(value: Any, fmt: str = "auto", issues: list[str] | None = None) -> CrystalArrays | Any:
    """Like :func:`parse_structure`, but a :class:`CrystalArrays` for an ordered structure.

    pymatgen dicts (a mapping, JSON text or a Python literal) take the fast path; CIF, POSCAR
    and anything the fast path does not take go through :func:`parse_structure` (a disordered
    structure comes back as the pymatgen ``Structure``, for validation to reject with its
    reason). Raises ``ValueError`` like :func:`parse_structure`; ``issues`` as there.
    """
    obj = None
    if isinstance(value, dict):
        obj = value
    elif fmt in ("auto", "dict") and isinstance(value, str):
        text = value.lstrip()
        if text.startswith("{"):
            try:
                obj = json.loads(text)
            except json.JSONDecodeError:
                try:  # a Python-literal dict (matminer flla); literals only, as parse_structure does
                    obj = ast.literal_eval(text)
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    obj = None  # garbage: parse_structure gives the reason
    if isinstance(obj, dict):
        arrays = _arrays_from_dict(obj)
        if arrays is not None:
            return arrays
    return CrystalArrays.from_structure(parse_structure(value, fmt, issues))


#: Boolean spellings of a class label in a text file (a Matbench JSON file has true/false, read as 1/0).
_BOOLEAN_TEXT = {"true": 1.0, "false": 0.0}


def _to_float(value: Any) -> float:
    """Target value as float (``true``/``false`` in any case: 1/0, a class label); non-numbers become NaN
    (validation quarantines them)."""
    if value is None:
        return math.nan
    if isinstance(value, str) and value.strip().lower() in _BOOLEAN_TEXT:
        return _BOOLEAN_TEXT[value.strip().lower()]
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _target_note(value: Any, labels_noted: bool = True) -> str | None:
    """Why ``value`` is no target number, quoting the original (``'n/a' is not a number``); None for a
    number, a missing value (None) or an empty cell, which stay plain NaN. ``true``/``false`` text reads as
    1/0 (a class label) with a note that a regression quarantines it by (``TRUE`` was trained on as 1.0 GPa);
    ``labels_noted`` False: no note for them (a header test, where a label is data)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "target is empty" if value is not None else None
    if isinstance(value, str) and value.strip().lower() in _BOOLEAN_TEXT:
        return f"target {value.strip()!r} is a yes/no label, not a number" if labels_noted else None
    try:
        float(value)
        return None
    except (TypeError, ValueError):
        return f"target {str(value)[:60]!r} is not a number"


def parse_structure(value: Any, fmt: str = "auto", issues: list[str] | None = None):
    """A pymatgen ``Structure`` from a dict, CIF text, POSCAR text or dict-literal text.

    ``fmt`` is one of ``auto``, ``cif``, ``poscar``, ``dict``. Raises ``ValueError`` with
    a short reason when the value cannot be parsed. The parser's warnings (e.g. pymatgen's
    "fractional coordinates rounded to ideal values") are captured, never printed; with
    ``issues`` given they are appended to it, one line each, without repeats.
    """
    import warnings

    from pymatgen.core import Structure

    if isinstance(value, dict):
        fmt = "dict"
    elif not isinstance(value, str) or not value.strip():
        raise ValueError("empty structure field")
    elif value.strip().lower() in ("nan", "na", "n/a", "none", "null"):  # a table's missing value, as text
        raise ValueError(f"missing structure ({value.strip()!r})")
    guessed = fmt == "auto"
    if fmt == "auto":
        text = value.lstrip()
        if text.startswith("{"):
            fmt = "dict"
        elif "_cell_length_a" in value or "_atom_site" in value:  # a CIF's tags (a POSCAR's comment
            fmt = "cif"                                               # line may well start with "data_")
        else:
            fmt = "poscar"
    cif_issues: list[str] = []
    caught: list[Any] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if fmt == "dict":
                obj = value
                if isinstance(value, str):
                    try:
                        obj = json.loads(value)
                    except json.JSONDecodeError:
                        obj = ast.literal_eval(value)  # Python-literal dicts (matminer flla); literals only
                if not isinstance(obj, dict):
                    raise ValueError("structure dict is not a mapping")
                structure = Structure.from_dict(obj)
            elif fmt == "cif":
                structure = _single_cif_structure(value, cif_issues)
            elif fmt == "poscar":
                structure = Structure.from_str(value, fmt=fmt)
                if any(str(w.message).startswith(POSCAR_FALSE_NAMES) for w in caught):
                    raise ValueError("POSCAR names no elements (VASP 4 format: no element-symbol line above the "
                                     "counts, no symbols after the coordinates), so pymatgen would call the atoms "
                                     "H, He, Li, ...: add the element-symbol line (VASP 5)")
                mismatch = _poscar_count_mismatch(value, len(structure))
                if mismatch:
                    raise ValueError(f"POSCAR {mismatch}")
            else:
                raise ValueError(f"unknown structure format '{fmt}' (valid: auto, cif, poscar, dict)")
    except Exception as exc:  # pymatgen raises many types for malformed text
        why = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {str(exc)[:160]}"
        if guessed and fmt == "poscar":  # text that is nothing recognisable fails as a POSCAR, the last guess
            why = f"not recognised as a pymatgen dict, CIF or POSCAR (as a POSCAR: {why})"
        elif not isinstance(exc, ValueError):
            why = f"cannot parse structure as {fmt}: {why}"
        raise ValueError(_with_parser_reason(why, _parser_issues(cif_issues, caught))) from None
    if len(structure) == 0:
        raise ValueError("structure has no sites")
    if issues is not None:
        issues.extend(m for m in _parser_issues(cif_issues, caught) if m not in issues)
        isotope = _hydrogen_isotope_named(value, structure)
        if isotope and isotope not in issues:
            issues.append(isotope)
    return structure


def _hydrogen_isotope_named(value: Any, structure: Any) -> str | None:
    """A parser warning when the input names D or T as a species and pymatgen read it as hydrogen (Z = 1): an
    isotope-labelled dataset otherwise trains, and predicts formulas, as plain H without a word. Only species
    are looked at: a dict's ``element`` values, a POSCAR's symbol line, a CIF atom-site line whose type symbol
    (second field) is D or T followed by coordinates (not a POSCAR's selective-dynamics T flags, an author D.,
    a comment's T = 300 K). None otherwise."""
    if not any(site.specie.Z == 1 for site in structure if hasattr(site, "specie")):
        return None
    found: set[str] = set()
    if isinstance(value, dict) or (isinstance(value, str) and value.lstrip().startswith("{")):
        found = {m for m in re.findall(r"""["']element["']\s*:\s*["']([DT])["']""", json.dumps(value)
                                        if isinstance(value, dict) else value)}
    elif isinstance(value, str):
        lines = value.splitlines()
        if len(lines) > 5 and "_atom_site" not in value:  # POSCAR: the symbol line (VASP 5) is the sixth
            found = {t for t in lines[5].split() if t in ("D", "T")}
        for line in lines if "_atom_site" in value else ():
            parts = line.split()
            if len(parts) >= 5 and parts[1] in ("D", "T") and all(_is_number(p) for p in parts[2:5]):
                found.add(parts[1])
    if not found:
        return None
    return f"{' and '.join(sorted(found))} read as hydrogen (Z = 1): the graph has no isotopes"


def _is_number(text: str) -> bool:
    """True for a CIF number such as ``0.125`` or ``0.12(3)``."""
    try:
        float(text.split("(")[0])
        return True
    except ValueError:
        return False


def _poscar_count_mismatch(text: str, n_sites: int) -> str | None:
    """What disagrees in a POSCAR that pymatgen reads without a word: an element-symbol line and a counts
    line of different lengths (it pairs them up to the shorter), or more coordinate lines than the counts
    add up to (it reads only that many). None when both agree. The coordinate block ends at a blank line
    (a velocity block may follow one) or at a line that is not three numbers."""
    lines = text.splitlines()
    if len(lines) < 8:
        return None
    symbols, counts = lines[5].split(), lines[6].split()
    if symbols and all(t.isdigit() for t in counts) and not any(t.lstrip("-").isdigit() for t in symbols):
        if len(symbols) != len(counts):
            return (f"names {len(symbols)} elements ({' '.join(symbols)}) but gives {len(counts)} counts "
                    f"({' '.join(counts)}) on line 7")
        start = 7  # the line of the coordinate type
    else:
        start = 6  # VASP 4: the counts are on line 6, the coordinate type on line 7
    if start < len(lines) and lines[start].strip()[:1] in ("s", "S"):
        start += 1  # "Selective dynamics" comes first
    n = 0
    for line in lines[start + 1:]:
        fields = line.split()
        if len(fields) < 3:
            break
        try:
            [float(v) for v in fields[:3]]
        except ValueError:
            break
        n += 1
    if n > n_sites:
        return (f"has {n} coordinate lines but its counts add up to {n_sites} atoms: the counts line "
                "(line 7) must count every atom")
    return None


#: How pymatgen starts its warning for a POSCAR whose elements it cannot tell (it then names them H, He, ...).
POSCAR_FALSE_NAMES = "Elements in POSCAR cannot be determined"


def _with_parser_reason(message: str, issues: list[str]) -> str:
    """``message`` of a structure that failed to parse, with the parser's warnings before the failure
    (pymatgen's CIF parser warns "Occupancy 2.0 exceeded tolerance", then says only "no structures")."""
    if not issues:
        return message
    reason = "; ".join(issues)
    return f"{message} (parser: {reason if len(reason) <= 300 else reason[:297] + '...'})"


#: How pymatgen's CifParser starts the warning that repeats all its issues of one CIF in one message.
CIF_ISSUES_SUMMARY = "Issues encountered while parsing CIF:"


def _parser_issues(cif_issues: list[str], caught: list[Any]) -> list[str]:
    """The distinct parser warnings of one structure, one line each: the CIF parser's own list
    (``CifParser.warnings``, which holds issues it never warns about) and every ``UserWarning``
    raised while parsing, without pymatgen's summary warning (it repeats that list in one message)
    and without deprecation warnings (about code, not data)."""
    out: list[str] = []
    raised = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    for message in (*cif_issues, *raised):
        text = " ".join(str(message).split())
        if text and not text.startswith(CIF_ISSUES_SUMMARY) and text not in out:
            out.append(text)
    return out


def _single_cif_structure(text: str, issues: list[str] | None = None):
    """The one structure of a CIF text; ``ValueError`` when it holds several data blocks.
    ``issues`` gets the parser's list of issues with the CIF (``CifParser.warnings``).

    ``Structure.from_str(fmt="cif")`` silently returns the first of them, so one record would
    stand for several structures and the others vanish; a record is one structure here.
    """
    from pymatgen.io.cif import CifParser

    parser = CifParser.from_str(text)
    try:
        structures = parser.parse_structures(primitive=False)
    finally:  # the issues explain a failure too
        if issues is not None:
            issues.extend(parser.warnings)
    blocks = parser.as_dict()
    unknown = _unrecognised_space_group(blocks, parser.warnings)
    if unknown:
        raise ValueError(f"space group {unknown!r} is not recognised by the CIF parser, which would keep only the "
                         "listed atoms (P1): write the Hermann-Mauguin symbol as the International Tables do "
                         "(e.g. 'F m -3 m'), give _space_group_IT_number, or list the symmetry operations")
    with_atoms = [name for name, block in blocks.items() if _has_atoms(block)]
    if len(with_atoms) > max(1, len(structures)):
        raise ValueError(f"CIF holds {len(with_atoms)} data blocks with atoms ({', '.join(with_atoms[:5])}), of "
                         f"which {len(structures)} parsed: one record must be one structure: split it into one "
                         "file/cell per data block (and see why the others do not parse)")
    if len(structures) > 1:
        names = ", ".join(list(blocks)[:5]) + (", ..." if len(blocks) > 5 else "")
        raise ValueError(f"CIF holds {len(structures)} structures (data blocks {names}); "
                         "one record must be one structure: split it into one file/cell per data block")
    return structures[0]


#: CIF tags (lower case) that give a block's symmetry operations, its space-group number, or its symbol.
_SYMOP_TAGS = ("_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz")
_NUMBER_TAGS = ("_space_group_it_number", "_symmetry_int_tables_number")
_SYMBOL_TAGS = ("_symmetry_space_group_name_h-m", "_space_group_name_h-m_alt", "_symmetry_space_group_name_h_m",
                "_space_group_name_hall", "_symmetry_space_group_name_hall")


def _has_atoms(block: dict[str, Any]) -> bool:
    """True when a CIF data block (``CifParser.as_dict()`` value) lists atom sites (fractional or Cartesian)."""
    return any(str(k).lower() in ("_atom_site_fract_x", "_atom_site_cartn_x") for k in block)


@functools.lru_cache(maxsize=1)
def _known_space_group_symbols() -> frozenset[str]:
    """The space-group symbols pymatgen's CIF parser recognises, normalised as it normalises them (no spaces
    or underscores): its own table and the COD symmetry-operation list it falls back to."""
    from monty.serialization import loadfn
    from pymatgen.symmetry.groups import SYMM_DATA

    import pymatgen.symmetry as symmetry

    names = {re.sub(r"[\s_]", "", k) for k in SYMM_DATA["space_group_encoding"]}
    names |= {re.sub(r"\s+", "", d["hermann_mauguin"]) for d in loadfn(Path(symmetry.__file__).parent / "symm_ops.json")}
    return frozenset(names)


def _unrecognised_space_group(blocks: dict[str, dict[str, Any]], parser_warnings: list[str]) -> str | None:
    """The space-group symbol of a data block with atoms that gives neither symmetry operations nor a
    space-group number, and whose symbol the parser does not recognise: it falls back to P1 and the
    structure holds only the listed atoms (the asymmetric unit). None when no block is in that case."""
    if not any("Defaulting to P1" in w for w in parser_warnings):
        return None
    for block in blocks.values():
        if not _has_atoms(block):
            continue
        tags = {str(k).lower(): v for k, v in block.items()}
        if any(tags.get(t) for t in _SYMOP_TAGS + _NUMBER_TAGS):
            continue
        symbol = next((str(tags[t]).strip().strip("'\"").strip() for t in _SYMBOL_TAGS if tags.get(t)), "")
        normalised = re.sub(r"[\s_]", "", symbol)
        if normalised and normalised not in ("?", ".") and normalised.upper() != "P1" \
                and normalised not in _known_space_group_symbols():
            return symbol
    return None


def _open_text(path: Path):
    """Text of ``path`` (gzip by suffix); ``utf-8-sig`` drops the byte-order mark Excel's
    "CSV UTF-8" writes, which would otherwise glue itself to the first header name."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _is_blank(path: Path) -> bool:
    """Whether ``path`` is a file holding nothing but whitespace (False when it cannot be read:
    the reader then reports why)."""
    try:
        with _open_text(path) as fh:
            while chunk := fh.read(1 << 16):
                if chunk.strip():
                    return False
        return True
    except (OSError, EOFError, UnicodeDecodeError):
        return False


def _stream_items(path: Path, prefix: str) -> Iterator[Any]:
    """The items under ``prefix`` (ijson notation, e.g. ``data.item``) of a JSON file, parsed
    incrementally: memory holds one item, not the file (ijson's C backend)."""
    import ijson

    try:
        with _open_text(path) as fh:
            yield from ijson.items(fh, prefix, use_float=True)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except (ijson.JSONError, OSError, UnicodeDecodeError, EOFError) as exc:
        raise DataError(path, f"not a readable Matbench JSON file ({type(exc).__name__}: {str(exc)[:200]})") from None


def _matbench_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, str, Any]]]:
    """``(columns, rows)`` of a Matbench file in the figshare "split" JSON layout; ``rows``
    yields ``(position, mbid, row)`` lazily.

    Streaming, so peak memory stays flat in the number of records (json.load held the whole
    document: ~40x the gzipped size). The ids and the rows are read by two incremental
    parsers over the same file, so the keys may come in any order; a file whose ``index``
    and ``data`` differ in length fails at the end with the count of each.
    """
    import ijson

    if _is_blank(path):
        raise DataError(path, "empty file (expected a Matbench JSON document)")
    columns = next(_stream_items(path, "columns"), None)
    if columns is None:
        try:  # tell "not the split layout" from "not JSON"
            with _open_text(path) as fh:
                first = next(ijson.parse(fh), None)
        except FileNotFoundError:
            raise DataError(path, "file not found") from None
        except (ijson.JSONError, OSError, UnicodeDecodeError, EOFError) as exc:
            raise DataError(path, f"not a readable Matbench JSON file ({type(exc).__name__})") from None
        what = "an object without a 'columns' key" if first and first[1] == "start_map" else "not a JSON object"
        raise DataError(path, f"expected the Matbench 'split' layout with keys index, columns, data ({what})")
    if not isinstance(columns, list):
        raise DataError(path, f"'columns' must be a list in the Matbench 'split' layout, not {type(columns).__name__}")

    def rows() -> Iterator[tuple[int, str, Any]]:
        ids, data = _stream_items(path, "index.item"), _stream_items(path, "data.item")
        n = 0
        for n, (mbid, row) in enumerate(zip(ids, data), start=1):
            yield n - 1, str(mbid), row
        rest_ids, rest_data = sum(1 for _ in ids), sum(1 for _ in data)
        if rest_ids or rest_data:
            raise DataError(path, f"index and data have different lengths ({n + rest_ids} ids, {n + rest_data} rows)")
        if n == 0 and next(_stream_items(path, "data"), None) is None:
            raise DataError(path, "expected the Matbench 'split' layout with keys index, columns, data (no 'data')")

    return list(columns), rows()


def _pick_target_column(path: Path, columns: list[str], target_column: str | None) -> str:
    """``target_column``, checked against a Matbench file's ``columns``; None: the only non-structure column."""
    targets = [c for c in columns if c != "structure"]
    if target_column is None:
        if not targets:
            raise DataError(path, f"no target column (columns: {columns})",
                            hint="training needs a column of target values beside 'structure'")
        if len(targets) != 1:
            raise DataError(path, f"several target columns {targets}; set materials.dataset.target_column")
        return targets[0]
    if target_column not in columns:
        raise DataError(path, f"target column '{target_column}' not found (columns: {columns})",
                        hint="set materials.dataset.target_column to one of them (null: the only non-structure column)")
    return target_column


def matbench_target_column(path: str | Path, target_column: str | None = None) -> str:
    """The target column :func:`read_matbench_json` reads from the Matbench file ``path`` (reads only
    its ``columns``): ``target_column`` when the file has it, for None the only non-structure column."""
    path = Path(path)
    columns, _ = _matbench_rows(path)
    return _pick_target_column(path, columns, target_column)


def read_matbench_json(path: str | Path, target_column: str | None = None, arrays: bool = False,
                       with_target: bool = True) -> Iterator[RawRecord]:
    """Records of a Matbench dataset in the figshare "split" JSON layout (``.json`` or ``.json.gz``),
    streamed (see :func:`_matbench_rows`); ``arrays``: structures as :class:`CrystalArrays`
    (see the module docstring); ``with_target=False`` (screening): no target column is looked for
    and every record's target is None."""
    path = Path(path)
    parse = parse_structure_arrays if arrays else parse_structure
    columns, rows = _matbench_rows(path)
    if "structure" not in columns:
        raise DataError(path, f"no 'structure' column (columns: {columns})")
    s_col = columns.index("structure")
    t_col = None
    if with_target:
        target_column = _pick_target_column(path, columns, target_column)
        t_col = columns.index(target_column)
    for _, rid, row in rows:
        issues: list[str] = []
        try:
            structure = parse(row[s_col], "dict", issues)
            error = None
        except (ValueError, IndexError, TypeError, KeyError) as exc:
            structure, error = None, str(exc)
        target, note = None, None
        try:
            if t_col is not None:
                target, note = _to_float(row[t_col]), _target_note(row[t_col])
        except (IndexError, TypeError, KeyError):
            target, note = math.nan, f"row has no value for target column '{target_column}'"
        # a JSON document has no line per entry: the mbid (the id) locates the record
        yield RawRecord(rid, structure, target, error, line=None, target_note=note, parser_warnings=tuple(issues))


def read_structure_csv(path: str | Path, structure_column: str = "structure", target_column: str | None = None,
                       id_column: str | None = None, structure_format: str = "auto", arrays: bool = False
                       ) -> Iterator[RawRecord]:
    """Stream records of a CSV whose ``structure_column`` holds CIF/POSCAR/dict text
    (``arrays``: structures as :class:`CrystalArrays`).

    Leading lines starting with ``#`` (matminer's reference line) are skipped. Records
    without ``id_column`` are named ``row<N>`` (N = 0-based data row). ``target_column``
    None means no target (screening input). A record's ``line`` is the file line its row
    starts on (1-based, header and comment lines counted); in a shard file, the line in
    the user's input that ``shard`` stored with it.
    """
    path = Path(path)
    parse = parse_structure_arrays if arrays else parse_structure
    for i, line, row in _csv_dict_rows(path, structure_column, target_column, id_column):
        rid = str(row.get(id_column) or "") if id_column else f"row{i}"
        error = row.get(SOURCE_ERROR) or None  # a shard file: the reason its record failed to read
        structure = None
        issues: list[str] = []
        if not rid.strip():  # never a record named "": quarantined under its row name with the line
            rid, error = f"row{i}", f"bad_id: empty id in column '{id_column}' (line {_source_line(row, line)})"
        if error is None:
            try:
                structure = parse(row.get(structure_column) or "", structure_format, issues)
            except ValueError as exc:
                error = str(exc)
        target = _to_float(row.get(target_column)) if target_column else None
        note = _target_note(row.get(target_column)) if target_column else None
        yield RawRecord(rid, structure, target, error, line=_source_line(row, line), target_note=note,
                        parser_warnings=tuple(issues))


def csv_header(path: str | Path) -> list[str]:
    """The column names of a structure CSV (leading ``#`` lines skipped); empty for an empty or unreadable
    file (the reader then says what is wrong)."""
    try:
        with _open_text(Path(path)) as fh:
            for line in fh:
                if not line.startswith("#"):
                    return next(csv.reader([line]), [])
    except (OSError, EOFError, UnicodeDecodeError, csv.Error):
        pass
    return []


def _csv_dict_rows(path: Path, structure_column: str, target_column: str | None, id_column: str | None
                   ) -> Iterator[tuple[int, int, dict[str, str]]]:
    """``(data row index, line, {column: text})`` of a structure CSV, ``line`` the 1-based file line
    the row starts on (``csv.reader.line_num`` before the row is read, so a quoted field over several
    lines moves the later rows down as in the file): leading ``#`` lines skipped, the named columns
    checked against the header, pandas' unnamed index column recognised."""
    if not path.is_file():
        raise DataError(path, "file not found")
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # CIF text fields exceed the 128 kB default
    try:
        fh = _open_text(path)
        # skip comment lines before the header; remember how many for line numbers
        skipped = 0
        while True:
            pos_line = fh.readline()
            if not pos_line:
                raise DataError(path, "empty CSV file")
            if pos_line.startswith("#"):
                skipped += 1
                continue
            break
        header = next(csv.reader([pos_line]))
        for col, what in ((structure_column, "structure_column"), (target_column, "target_column"),
                          (id_column, "id_column")):
            if col is not None and col not in header:
                raise DataError(path, f"column '{col}' ({what}) not in the header {header}",
                                hint=_missing_column_hint(what, header))
        rows = _numbered_rows(csv.reader(fh), skipped + 1)  # the comment lines and the header before
        first = next(rows, None)
        if first is not None and len(first[1]) == len(header) + 1:
            # pandas' to_csv with an unnamed index writes one more field than header names
            # (the matminer files); read it as pandas does: the extra first field is the index
            header = ["__index__"] + header
        for i, (line, values) in enumerate(_chain_first(first, rows)):
            yield i, line, dict(zip(header, values))
        fh.close()
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(path, f"cannot read CSV ({exc})") from None


def _missing_column_hint(what: str, header: list[str]) -> str:
    """How to fix a ``what`` column (``structure_column``...) missing from ``header``: the setting to
    change, ``id_column: null`` for ids, and a word when the header looks semicolon or tab separated."""
    hint = f"set materials.dataset.{what}"
    if what != "target_column":  # the screening steps take these columns as options too
        hint += (f" (training), materials.screening.{what} (screening workflow) or "
                 f"--{what.replace('_', '-')} (sciml materials predict / shard)")
    if what == "id_column":
        hint += "; null (no option) names the records row<N>"
    if len(header) == 1:
        sep = next((name for ch, name in ((";", "semicolon"), ("\t", "tab")) if ch in header[0]), None)
        if sep:
            hint = (f"the file looks {sep} separated (one header cell {header[0][:80]!r}); this reader needs "
                    f"comma-separated values: save it as CSV with ',' as the separator. Else {hint}")
    return hint


def _numbered_rows(reader: Any, lines_before: int) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of each row of ``reader`` (a ``csv.reader``), ``line`` the 1-based file line
    the row starts on; ``lines_before``: the file lines read before the reader started."""
    while True:
        line = lines_before + reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        yield line, values


def _chain_first(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    if first is not None:
        yield first
    yield from rest


def _is_structure_file(p: Path) -> bool:
    return p.suffix.lower() in STRUCTURE_SUFFIXES or p.name.upper().startswith(("POSCAR", "CONTCAR"))


def _structure_files(folder: Path) -> dict[str, list[Path]]:
    """The structure files of ``folder`` by id (the name without its suffix; POSCAR/CONTCAR-style names
    whole), in name order. Normally one file per id; two (``a.cif`` and ``a.vasp``) are kept together,
    so that the reader can refuse the ambiguous id instead of one file silently replacing the other."""
    files: dict[str, list[Path]] = {}
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.name == "id_prop.csv":
            continue
        if p.suffix.lower() in STRUCTURE_SUFFIXES:
            files.setdefault(p.stem, []).append(p)
        elif _is_structure_file(p):
            files.setdefault(p.name, []).append(p)
    return files


def _missing_file(folder: Path, rid: str) -> str:
    """The bad-record reason of an id without a structure file, naming files of that id the folder reader
    does not read (``<id>.cif.gz``, ``<id>.xyz``)."""
    import glob

    unread = sorted(p.name for p in folder.glob(glob.escape(rid) + ".*") if p.is_file())
    return f"no structure file for id '{rid}' in {folder}" + (
        f" ({', '.join(unread[:3])} is there, but a folder's {FOLDER_FILES} files are read, uncompressed)"
        if unread else "")


def _ambiguous(rid: str, paths: list[Path]) -> str:
    """The bad-record reason of an id that names several structure files."""
    return (f"ambiguous id '{rid}': {len(paths)} structure files share it ({', '.join(p.name for p in paths)}); "
            "rename all but one")


def ignored_files(folder: str | Path) -> list[str]:
    """Names of the entries of ``folder`` the folder reader does not read (not ``*.cif``, ``*.vasp``,
    ``*.poscar``, ``*.json``, ``POSCAR*``/``CONTCAR*`` or ``id_prop.csv``; sub-folders too), for a warning:
    a ``.cif.gz`` or ``.xyz`` file there is not read."""
    folder = Path(folder)
    return [p.name + ("/" if p.is_dir() else "") for p in sorted(folder.iterdir())
            if p.name != "id_prop.csv" and not (p.is_file() and _is_structure_file(p))]


#: What the folder reader reads, for messages.
FOLDER_FILES = "*.cif, *.vasp, *.poscar, *.json, POSCAR*, CONTCAR*"


def _read_file_structure(p: Path, arrays: bool = False, issues: list[str] | None = None):
    text = p.read_text(encoding="utf-8-sig", errors="replace")
    suffix = p.suffix.lower()
    fmt = {".cif": "cif", ".json": "dict"}.get(suffix, "poscar")
    return (parse_structure_arrays if arrays else parse_structure)(text, fmt, issues)


def read_structure_folder(folder: str | Path, id_prop: str | None = "id_prop.csv", arrays: bool = False
                          ) -> Iterator[RawRecord]:
    """Stream records of a folder of structure files.

    With ``id_prop`` (rows ``id,target``; CGCNN/ALIGNN layout; a first line whose second field is
    not a number is a header and skipped) the records follow its order and ``<id>.cif`` /
    ``<id>.vasp`` / ``<id>`` is looked up for each id; a missing file is a bad record, and each
    structure file without a row follows as a ``no_target`` record (quarantined, never ignored
    silently). A record's ``line`` is its row's line in ``id_prop.csv`` (None for a structure file
    without a row). A missing ``id_prop.csv`` is a DataError naming it. Without ``id_prop``
    (screening) every structure file is read in name order with ``target=None`` and ``line`` None:
    the id (the file name without suffix) locates it. ``arrays``: structures as :class:`CrystalArrays`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "not a folder")
    files = _structure_files(folder)
    if id_prop is None:
        for rid, paths in files.items():
            if len(paths) > 1:
                yield RawRecord(rid, None, None, _ambiguous(rid, paths), None)
                continue
            structure, error, issues = _folder_structure(paths[0], arrays)
            yield RawRecord(rid, structure, None, error, None, parser_warnings=issues)
        return
    prop_path = folder / id_prop
    if not prop_path.is_file():
        raise DataError(prop_path, f"{id_prop} missing: a folder dataset needs it for the targets",
                        hint=f"write {prop_path} with one 'id,target' row per structure file ({len(files)} found)")
    used: dict[str, str] = {}  # structure file name -> the id whose record it is
    for line, rid, raw_target in _id_prop_rows(prop_path, known_ids=set(files)):
        # the CGCNN convention names files <id>.cif; also accept an id that is the file name (the id
        # itself first: 's1.5' is s1.5.cif, not s1.cif), but strip only a structure file's suffix: the
        # id 's1.relaxed' is not s1.cif
        named = Path(rid).suffix.lower() in STRUCTURE_SUFFIXES
        paths = files.get(rid) or (files.get(Path(rid).stem) if named else None) or []
        note = _target_note(raw_target)
        if len(paths) == 1 and paths[0].name in used:
            why = (f"duplicate: structure file {paths[0].name} is already the record of id '{used[paths[0].name]}' "
                   f"({id_prop} names it twice, e.g. as '<id>' and '<id>{paths[0].suffix}')")
            yield RawRecord(rid, None, _to_float(raw_target), why, line, note)
            continue
        if len(paths) != 1:
            why = _ambiguous(rid, paths) if paths else _missing_file(folder, rid)
            used.update((p.name, rid) for p in paths)
            yield RawRecord(rid, None, _to_float(raw_target), why, line, note)
            continue
        used[paths[0].name] = rid
        structure, error, issues = _folder_structure(paths[0], arrays)
        yield RawRecord(rid, structure, _to_float(raw_target), error, line, note, issues)
    for rid, paths in files.items():
        for p in paths:
            if p.name not in used:
                yield RawRecord(rid, None, None, f"no_target: structure file {p.name} has no row in {id_prop}")


def _id_prop_rows(prop_path: Path, known_ids: set[str] = frozenset()) -> Iterator[tuple[int, str, str]]:
    """``(line, id, target text)`` of the rows of an ``id_prop.csv`` (``line`` 1-based): blank and ``#``
    lines skipped, and a first row whose second field is not a number (a header such as
    ``material_id,K_VRH``) unless its first field is one of ``known_ids`` (a record whose target is empty
    or a word: kept, for the reader to quarantine with its line). A row with fewer than two fields, or a
    first row with more than two (a table of several targets), is a DataError naming its line; a later
    row with more than two fields gives its fields after the id as the target text (``1,5``: not a number)."""
    try:
        yield from _id_prop_rows_utf8(prop_path, known_ids)
    except UnicodeDecodeError:
        raise DataError(prop_path, "not UTF-8 text: save it as UTF-8 (e.g. Excel's 'CSV UTF-8')",
                        record=_first_undecodable_line(prop_path)) from None


def _first_undecodable_line(path: Path) -> str | None:
    """``"line N"`` of the first line of ``path`` that is not UTF-8 (None if every line decodes)."""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return f"line {n}"
    return None


def _id_prop_rows_utf8(prop_path: Path, known_ids: set[str]) -> Iterator[tuple[int, str, str]]:
    """:func:`_id_prop_rows` of a file read as UTF-8 (a UnicodeDecodeError is the caller's to name)."""
    with open(prop_path, encoding="utf-8-sig", newline="") as fh:
        first = True
        for line, row in _numbered_rows(csv.reader(fh), 0):
            if not row or not "".join(row).strip() or row[0].startswith("#"):
                continue
            if len(row) < 2:
                raise DataError(prop_path, f"expected 'id,target' rows, found {row[:3]}", record=f"line {line}")
            if first and len(row) > 2 and "".join(row[2:]).strip():
                raise DataError(prop_path, f"{len(row)} fields ({', '.join(row[:4])}{', ...' if len(row) > 4 else ''})"
                                ": a folder dataset's id_prop.csv has two, 'id,target' (the CGCNN convention)",
                                record=f"line {line}", hint="for a table of several targets, write one id_prop.csv "
                                "per target, or use a CSV dataset with materials.dataset.target_column")
            header = first and _target_note(row[1], labels_noted=False) is not None and row[0].strip() not in known_ids
            first = False
            if header:
                continue  # a header line
            target = row[1] if len(row) == 2 or not "".join(row[2:]).strip() else ",".join(row[1:])
            yield line, row[0].strip(), target


def _folder_structure(p: Path, arrays: bool) -> tuple[Any | None, str | None, tuple[str, ...]]:
    """``(structure, error, parser warnings)`` of one structure file of a folder."""
    issues: list[str] = []
    try:
        return _read_file_structure(p, arrays, issues), None, tuple(issues)
    except (ValueError, OSError) as exc:
        return None, str(exc), ()


#: File names ASE reads as trajectories of structures (``ase.io.iread``); gzip/bz2/xz allowed.
ASE_SUFFIXES = (".extxyz", ".xyz", ".traj", ".extxyz.gz", ".xyz.gz", ".extxyz.bz2", ".xyz.bz2", ".extxyz.xz", ".xyz.xz")


def _atoms_structure(atoms: Any, arrays: bool) -> Any:
    """A periodic structure from an ASE ``Atoms``: :class:`CrystalArrays` (``arrays``) or a
    pymatgen ``Structure`` (through pymatgen's ``AseAtomsAdaptor``). A frame without a full
    3D cell is refused: the graphs are periodic."""
    import numpy as np

    cell = np.array(atoms.cell[:], dtype=np.float64)
    if cell.shape != (3, 3) or abs(np.linalg.det(cell)) < 1e-8:
        raise ValueError("frame has no 3D cell (Lattice= in extxyz); a periodic crystal is needed")
    if not any(bool(p) for p in atoms.pbc):  # a molecule or cluster in a box: it would be scored as one
        raise ValueError('frame is periodic in no direction (pbc="F F F"): a molecule or cluster, not a crystal; '
                         'set pbc="T T T" (with vacuum around it) to score it as a crystal')
    if arrays:
        frac = np.linalg.solve(cell.T, np.asarray(atoms.positions, dtype=np.float64).T).T
        return CrystalArrays(cell, frac, np.asarray(atoms.numbers, dtype=np.int64), tuple(bool(p) for p in atoms.pbc))
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_structure(atoms)


def _xyz_layout(path: Path) -> tuple[int, str | None]:
    """``(frames found, where the frame layout breaks or None)`` of an (extended) XYZ file;
    the break as ``frame N (line L): ...``.

    ASE indexes every frame header of an extxyz file before it yields the first frame, and its
    ``XYZError`` names neither frame nor line; this walks the same layout (atom-count line,
    comment line, that many atom lines) only to tell the user where, after ASE failed.
    """
    from ase.io.formats import open_with_compression

    with open_with_compression(str(path), "r") as fh:
        frame, lineno = 0, 1
        while line := fh.readline():
            if not line.strip():
                break
            try:
                natoms = int(line)
            except ValueError:
                where = f"frame {frame} (line {lineno}): expected its atom-count line, got {line.strip()[:60]!r}"
                if frame and len(line.split()) >= 4:  # an atom line: the previous count was too small
                    where += f"; the atom count of frame {frame - 1} looks wrong"
                return frame, where
            for _ in range(natoms + 1):
                fh.readline()
            frame, lineno = frame + 1, lineno + natoms + 2
    return frame, None


def _xyz_frame_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, comment)`` of each frame of an (extended) XYZ file, streamed: the 1-based line of its
    atom-count line and its comment line's text (the key=value pairs as written). The layout ASE's
    extxyz reader indexes (atom-count line, comment line, that many atom lines, up to three ``VEC``
    lines; a blank line ends the file). Stops where that layout breaks (ASE then fails, and
    :func:`_xyz_layout` says where)."""
    from ase.io.formats import open_with_compression

    with open_with_compression(str(path), "r") as fh:
        lineno, line = 1, fh.readline()
        while line.strip():
            try:
                natoms = int(line)
            except ValueError:
                return
            comment = fh.readline()
            yield lineno, comment
            for _ in range(natoms):
                fh.readline()
            lineno, line = lineno + natoms + 2, fh.readline()
            while line.lstrip().startswith("VEC"):  # the old extxyz cell lines after the atoms
                lineno, line = lineno + 1, fh.readline()


def _written_value(comment: str, key: str) -> str | None:
    """The value of ``key`` on an extxyz comment line as written (quotes removed), or None. ASE converts
    values by their look (``007`` -> 7, ``1e3`` -> 1000.0, ``T`` -> True), which breaks ids."""
    import re

    m = re.search(r'(?:^|\s)' + re.escape(key) + r'\s*=\s*(?:"([^"]*)"|\'([^\']*)\'|(\S+))', comment)
    return None if m is None else next(g for g in m.groups() if g is not None)


def read_ase(path: str | Path, target_column: str | None = None, id_column: str | None = "id",
             arrays: bool = False) -> Iterator[RawRecord]:
    """Records of a file ASE reads frame by frame (``ase.io.iread``: extended XYZ, ASE trajectory...),
    streamed. Ids from each frame's ``info[id_column]`` (else ``frame<N>``), targets from
    ``info[target_column]`` (extxyz: ``key=value`` on the comment line; an id as written there, not as ASE
    converts it: ``007`` stays ``007``), else from the frame's
    calculator results, where ASE files ``energy``/``free_energy`` (extxyz and ``.traj``). A frame that is not a
    periodic crystal, or whose lines ASE cannot parse, is a record with its error (validation
    quarantines it) and reading goes on with the next frame. A broken frame layout (an atom-count
    line that is wrong, so no later frame can be found) is a DataError naming file, frame and line.
    A record's ``line`` is its frame's atom-count line (XYZ files; None for a binary ``.traj``)."""
    import ase.io
    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    xyz = ".xyz" in path.name.lower() or ".extxyz" in path.name.lower()
    frame_lines = _xyz_frame_lines(path) if xyz else iter(())
    frames = ase.io.iread(str(path), index=":")
    i = 0
    while True:
        try:
            atoms = next(frames)
        except StopIteration:
            return
        except Exception as exc:  # ASE raises many types for a malformed frame
            what = f"{type(exc).__name__}: {str(exc)[:200]}"
            n_frames, layout = _xyz_layout(path) if xyz else (None, None)
            if n_frames == 0 and layout is None:
                raise DataError(path, "empty file (no frames)") from None
            if layout is not None:  # no frame after it can be found, and ASE reads none before checking all
                raise DataError(path, f"{layout}: ASE cannot parse the file ({what})",
                                hint="ASE locates every frame before it reads the first, so no frame was read: "
                                     "fix that line (or the atom count before it)") from None
            if not xyz or i >= n_frames:
                raise DataError(path, f"frame {i}: ASE cannot parse it ({what})",
                                hint=f"{i} frame(s) before it were read; fix or remove the frame") from None
            # the frame layout is sound: only this frame's lines are bad; go on from the next frame
            # (ASE's generator ends at its exception, so a new one starts there)
            yield RawRecord(f"frame{i}", None, math.nan if target_column is not None else None,
                            f"ASE cannot parse frame {i} ({what})", line=next(frame_lines, (None, ""))[0])
            i += 1
            frames = ase.io.iread(str(path), index=slice(i, None))
            continue
        info = getattr(atoms, "info", {}) or {}
        line, comment = next(frame_lines, (None, ""))
        written = _written_value(comment, id_column) if id_column and comment else None
        rid = written if written is not None else (
            str(info.get(id_column)) if id_column and info.get(id_column) is not None else f"frame{i}")
        try:
            structure, error = _atoms_structure(atoms, arrays), None
        except (ValueError, np.linalg.LinAlgError) as exc:
            structure, error = None, str(exc)
        target, note = None, None
        if target_column is not None:
            # ASE files a frame's energy/free_energy/stress (extxyz comment line, every .traj) under the
            # calculator's results, not under info: a target is looked for in both
            results = getattr(getattr(atoms, "calc", None), "results", None) or {}
            value = info.get(target_column, results.get(target_column))
            if value is not None and np.ndim(value) > 0:
                value = None if np.size(value) != 1 else np.ravel(value)[0]
            target = _to_float(value) if value is not None else math.nan
            note = _target_note(value) if value is not None else (
                f"frame has no '{target_column}' (target_column) in its info or calculator results; keys: "
                f"{sorted(map(str, {**info, **results})) or 'none'}")
        yield RawRecord(rid, structure, target, error, line=line, target_note=note)
        i += 1


#: Columns ``shard`` adds to its shard files so that a scored shard reports each record's line in the
#: user's file and the reason a record already failed to read (an ASE frame without a cell...):
#: :func:`read_structure_csv` takes them over when a CSV has them.
SOURCE_LINE, SOURCE_ERROR = "sciml_source_line", "sciml_source_error"


def iter_structure_items(path: str | Path, fmt: str = "auto", structure_column: str = "structure",
                         id_column: str | None = None) -> Iterator[tuple[str, str, int | None, str | None]]:
    """``(id, structure text, line, error)`` of every record of an input set, in file order, without
    parsing the structures (what the screening ``shard`` step copies into shard files).

    CSV: the structure column as it is (ids from ``id_column``, else ``row<N>``); Matbench
    JSON: the structure dict as compact JSON (ids = mbids); ASE file: each frame as pymatgen dict
    JSON; folder: each structure file's text (ids = file names without suffix). The text parses
    back with ``fmt="auto"`` (:func:`parse_structure`), so a record that is bad here stays bad,
    with its reason, when it is scored. ``line`` is the record's line in the input as its reader
    gives it (None for Matbench JSON and folders: the id locates the record); ``error`` the reason a
    record that could not be read at all (text "") failed, else None.
    """
    fmt = detect_format(path) if fmt == "auto" else fmt
    path = Path(path)
    if fmt == "csv":
        for i, line, row in _csv_dict_rows(path, structure_column, None, id_column):
            yield ((str(row[id_column]) if id_column else f"row{i}"), row.get(structure_column) or "",
                   _source_line(row, line), row.get(SOURCE_ERROR) or None)
    elif fmt == "matbench_json":
        for rec_id, value in _matbench_structures(path):
            yield rec_id, value if isinstance(value, str) else json.dumps(value, separators=(",", ":")), None, None
    elif fmt == "ase":
        for rec in read_ase(path, id_column=id_column or "id"):
            # the structure as pymatgen dict JSON: parses back with fmt="auto"
            if rec.structure is not None:
                d = rec.structure.as_dict()
                d.pop("properties", None)  # the frame's info (numpy ints and arrays): not the structure
                yield rec.id, json.dumps(d, separators=(",", ":")), rec.line, None
            else:
                yield rec.id, "", rec.line, rec.error or "no structure"
    elif fmt == "folder":
        if not path.is_dir():
            raise DataError(path, "not a folder")
        for rid, paths in _structure_files(path).items():
            if len(paths) > 1:
                yield rid, "", None, _ambiguous(rid, paths)
                continue
            try:
                yield rid, paths[0].read_text(encoding="utf-8-sig", errors="replace"), None, None
            except OSError as exc:  # unreadable: scored as skipped with this reason, never dropped
                yield rid, "", None, f"cannot read {paths[0].name} ({type(exc).__name__}: {exc})"
    else:
        raise DataError(path, f"unknown dataset format '{fmt}' (valid: auto, matbench_json, csv, folder, ase)")


def _source_line(row: dict[str, str], line: int) -> int | None:
    """The record's line in the user's file: in a shard file (it has the ``sciml_source_line`` column)
    the line stored there (None when empty: the input had no lines, e.g. a folder), else ``line``,
    the row's own line."""
    if SOURCE_LINE not in row:
        return line
    value = row[SOURCE_LINE]
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _matbench_structures(path: Path) -> Iterator[tuple[str, Any]]:
    """``(mbid, structure value)`` of a Matbench split-layout file (no target needed), streamed."""
    columns, rows = _matbench_rows(path)
    if "structure" not in columns:
        raise DataError(path, f"no 'structure' column (columns: {columns})")
    s_col = columns.index("structure")
    for _, mbid, row in rows:
        try:
            value = row[s_col]
        except (IndexError, TypeError, KeyError):
            value = ""
        yield mbid, value if value is not None else ""


def format_from_name(name: str) -> str | None:
    """``matbench_json``, ``csv`` or ``ase`` from a file name's suffix; None when it names none of them."""
    name = name.lower()
    if name.endswith((".json", ".json.gz")):
        return "matbench_json"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith(ASE_SUFFIXES):
        return "ase"
    return None


def detect_format(path: str | Path) -> str:
    """``matbench_json``, ``csv``, ``ase`` or ``folder`` from the path."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    fmt = format_from_name(path.name)
    if fmt is not None:
        return fmt
    if not path.exists():  # a folder's name has no suffix: say what is wrong, not the format
        raise DataError(path, "file or folder not found")
    raise DataError(path, "cannot tell the format from the name",
                    hint="use a .json[.gz] Matbench file, a .csv[.gz] file, an extended XYZ (.extxyz/.xyz) "
                         "file or a folder with id_prop.csv")


def read_records(path: str | Path, fmt: str = "auto", structure_column: str = "structure",
                 target_column: str | None = None, id_column: str | None = None,
                 structure_format: str = "auto", with_targets: bool = True, arrays: bool = False
                 ) -> Iterator[RawRecord]:
    """Dispatch to the reader for ``fmt`` (``auto`` detects it from the path); ``arrays``:
    structures as :class:`CrystalArrays` (the fast path screening uses)."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "matbench_json":
        it = read_matbench_json(path, target_column, arrays=arrays, with_target=with_targets)
    elif fmt == "csv":
        it = read_structure_csv(path, structure_column, target_column if with_targets else None,
                                id_column, structure_format, arrays=arrays)
    elif fmt == "folder":
        it = read_structure_folder(path, "id_prop.csv" if with_targets else None, arrays=arrays)
    elif fmt == "ase":
        it = read_ase(path, target_column if with_targets else None, id_column or "id", arrays=arrays)
    else:
        raise DataError(path, f"unknown dataset format '{fmt}' (valid: auto, matbench_json, csv, folder, ase)")
    if with_targets:
        return it
    return (RawRecord(r.id, r.structure, None, r.error, r.line, parser_warnings=r.parser_warnings) for r in it)
