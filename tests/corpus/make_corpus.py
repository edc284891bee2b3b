"""Write the malformed-input corpus (tests/corpus/{generic,materials}/). Project-made data.

Run from the repository root: ``python tests/corpus/make_corpus.py``. The files are committed;
cases that git cannot hold portably (symlink loops, paths climbing out of the data root, a
folder where a file is expected) are made at test time by tests/reliability/test_corpus.py.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

GOOD_CIF = """data_NaCl
_cell_length_a   5.64
_cell_length_b   5.64
_cell_length_c   5.64
_cell_angle_alpha   90
_cell_angle_beta   90
_cell_angle_gamma   90
_symmetry_space_group_name_H-M   'P 1'
loop_
 _atom_site_type_symbol
 _atom_site_label
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  Na  Na0  0.0  0.0  0.0  1
  Cl  Cl1  0.5  0.5  0.5  1
"""

GOOD_POSCAR = """NaCl
1.0
5.64 0.0 0.0
0.0 5.64 0.0
0.0 0.0 5.64
Na Cl
1 1
direct
0.0 0.0 0.0
0.5 0.5 0.5
"""


def _csv(rows: list[tuple[str, str, str]], header: str = "id,formation_energy_per_atom,structure") -> str:
    out = io.StringIO()
    import csv

    w = csv.writer(out, lineterminator="\n")
    out.write(header + "\n")
    for row in rows:
        w.writerow(row)
    return out.getvalue()


def generic() -> dict[str, bytes]:
    """Format-agnostic damage: every reader must refuse these with a DataError naming the file."""
    rng = random.Random(20240611)
    garbage = bytes(rng.randrange(256) for _ in range(4096))
    good = _csv([("r1", "-1.0", GOOD_CIF), ("r2", "-0.5", GOOD_POSCAR)]).encode()
    gz = gzip.compress(good, mtime=0)
    return {
        "empty.csv": b"",
        "empty.json": b"",
        "whitespace_only.csv": b"\n\n   \n\t\n",
        "garbage.bin": garbage,
        "garbage.csv": garbage,
        "garbage.csv.gz": garbage,
        "garbage.json": garbage,
        "garbage.nc": garbage,
        "garbage.npz": garbage,
        "truncated.csv.gz": gz[: len(gz) // 2],
        "truncated.json.gz": gzip.compress(b'{"index": [0, 1], "columns": ["structure", "e"], "data": [[', mtime=0)[:40],
        "truncated.json": b'{"index": [0, 1], "columns": ["structure", "e"], "data": [[{"@module": "pym',
        "html_error_page.csv": b"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n",
        "html_error_page.json": b"<html><body>502 Bad Gateway</body></html>",
        "png_not_csv.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + garbage[:200],
        "utf16_bom.csv": "id,formation_energy_per_atom,structure\nr1,1.0,x\n".encode("utf-16"),
        "nul_bytes.csv": b"id,formation_energy_per_atom,structure\nr1,1.0,\x00\x00\x00\n",
        "json_array_not_object.json": b"[1, 2, 3]",
        "json_wrong_keys.json": json.dumps({"rows": [], "meta": {}}).encode(),
        "json_nan_literal.json": b'{"index": [0], "columns": ["structure", "e"], "data": [[NaN, NaN]]}',
        "deeply_nested.json": b"[" * 20000 + b"]" * 20000,
    }


def materials() -> dict[str, bytes]:
    """Structure CSVs whose *records* are bad: each must be quarantined (counted), not crash."""
    truncated_cif = GOOD_CIF[: len(GOOD_CIF) // 2]
    nan_poscar = GOOD_POSCAR.replace("0.5 0.5 0.5", "nan nan nan")
    inf_lattice = GOOD_POSCAR.replace("5.64 0.0 0.0", "inf 0.0 0.0")
    huge_lattice = GOOD_POSCAR.replace("5.64 0.0 0.0", "1e300 0.0 0.0")
    zero_volume = GOOD_POSCAR.replace("0.0 0.0 5.64", "0.0 0.0 0.0")
    overlapping = GOOD_POSCAR.replace("0.5 0.5 0.5", "0.0 0.0 0.0")
    unknown_element = GOOD_CIF.replace("Cl  Cl1", "Xx  Xx1")
    rows = [
        ("ok-1", "-1.0", GOOD_CIF),
        ("ok-2", "-0.9", GOOD_POSCAR),
        ("truncated-cif", "-1.0", truncated_cif),
        ("nan-coords", "-1.0", nan_poscar),
        ("inf-lattice", "-1.0", inf_lattice),
        ("huge-lattice", "-1.0", huge_lattice),
        ("zero-volume", "-1.0", zero_volume),
        ("overlapping-atoms", "-1.0", overlapping),
        ("unknown-element", "-1.0", unknown_element),
        ("nan-target", "nan", GOOD_CIF),
        ("inf-target", "inf", GOOD_CIF),
        ("huge-target", "1e400", GOOD_CIF),
        ("text-target", "about minus one", GOOD_CIF),
        ("empty-structure", "-1.0", ""),
        ("garbage-structure", "-1.0", "\x00\x01\x02 not a structure \ufffd"),
        ("python-code", "-1.0", "__import__('os').system('echo pwned')"),
        ("dict-literal-bad", "-1.0", "{'lattice': 'no', 'sites': 5}"),
        ("unicode-\u202eevil-\U0001f600", "-1.0", "d\u00e4t\u00e4_\u4e2d\u6587 \u200b\ufeff"),
    ]
    base = _csv(rows).encode()
    ragged = (_csv(rows[:2]) + "short-row,1.0\nlong,1.0,x,y,z\n").encode()
    return {
        "bad_records.csv": base,
        "bad_records.csv.gz": gzip.compress(base, mtime=0),
        "ragged_rows.csv": ragged,
        "header_only.csv": b"id,formation_energy_per_atom,structure\n",
        "missing_target_column.csv": _csv([("r", GOOD_CIF, "")], header="id,structure,other").encode(),
        "all_records_bad.csv": _csv([("a", "nan", "x"), ("b", "1", "")]).encode(),
    }


def main() -> None:
    for folder, files in (("generic", generic()), ("materials", materials())):
        out = HERE / folder
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (out / name).write_bytes(data)
        print(f"{out}: {len(files)} files")


if __name__ == "__main__":
    main()
