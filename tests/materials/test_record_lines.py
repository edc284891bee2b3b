"""The quarantine's ``line`` column: the 1-based line of the user's file where the record starts.

It was the 0-based record number, so "line 5" sent the user to the wrong record (and a CSV's
quoted multi-line CIF/POSCAR fields moved every later record further away)."""

from __future__ import annotations

import csv
import json

import pytest

from tests.materials.conftest import REPO, tiny_config  # noqa: F401  (importlib mode: package path)

#: A 2-atom POSCAR over 10 lines: a quoted CSV field holding it spans 10 file lines.
POSCAR = "\n".join([
    "NaCl", "1.0", "4.0 0.0 0.0", "0.0 4.0 0.0", "0.0 0.0 4.0", "Na Cl", "1 1", "direct",
    "0.0 0.0 0.0 Na", "0.5 0.5 0.5 Cl",
])


def _csv_text(newline: str = "\n") -> str:
    """A dataset CSV whose bad records sit at known lines: 3 (a quoted 10-line field: lines 3-12) ->
    ``bad`` on line 13 -> ``nan_target`` on lines 14-23 -> ``ok2`` on 24-33 -> ``bad2`` on line 34."""
    poscar = POSCAR.replace("\n", newline)
    rows = [
        "# a comment line, as in the matminer files",                 # line 1
        "id,structure,y",                                             # line 2
        f'ok1,"{poscar}",1.0',                                        # lines 3-12
        "bad,not a crystal,2.0",                                      # line 13
        f'nan_target,"{poscar}",n/a',                                 # lines 14-23
        f'ok2,"{poscar}",3.0',                                        # lines 24-33
        "bad2,,4.0",                                                  # line 34
    ]
    return newline.join(rows) + newline


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_csv_records_carry_the_line_they_start_on(tmp_path, newline):
    from sciml.materials.readers import read_structure_csv

    p = tmp_path / "data.csv"
    p.write_bytes(_csv_text(newline).encode())
    recs = list(read_structure_csv(p, "structure", "y", "id"))
    assert [(r.id, r.line) for r in recs] == [("ok1", 3), ("bad", 13), ("nan_target", 14), ("ok2", 24),
                                              ("bad2", 34)]
    assert recs[0].structure is not None and recs[3].structure is not None
    # the ids without id_column stay the 0-based data row (row<N>): only the line changed
    assert [r.id for r in read_structure_csv(p, "structure", "y")] == [f"row{k}" for k in range(5)]
    file_lines = p.read_bytes().decode().split(newline)
    for r in recs:
        assert file_lines[r.line - 1].startswith(f"{r.id},")


def test_prepare_quarantine_names_the_file_line(tmp_path):
    """End to end: prepare's quarantine.csv gives each bad record's line in the user's CSV."""
    from sciml.materials.steps import prepare

    (tmp_path / "data.csv").write_text(_csv_text())
    cfg = tiny_config(dataset={"path": "data.csv", "target_column": "y", "id_column": "id", "limit": None})
    summary = prepare(cfg, tmp_path, tmp_path / "prepared")
    assert summary["n_records"] == 5 and summary["n_kept"] == 2
    with open(tmp_path / "prepared" / "quarantine.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["id"], r["line"]) for r in rows] == [("bad", "13"), ("nan_target", "14"), ("bad2", "34")]
    assert rows[1]["reason"].startswith("bad_target")


def test_matminer_csv_lines_count_the_comment_header_and_multiline_cifs(shared_data):
    """The real matminer file: '# ref' line, header, then rows of 58 lines each (quoted CIF and POSCAR
    fields): records 0, 1, 2 start on lines 3, 61, 119 (``zcat | grep -n '^1,'`` says so)."""
    import gzip
    from itertools import islice

    from sciml.materials.readers import read_structure_csv

    path = shared_data / "materials/matminer_0.3.9/dielectric_constant.csv.gz"
    recs = list(islice(read_structure_csv(path, "structure", "n", "material_id"), 3))
    assert [(r.id, r.line) for r in recs] == [("mp-441", 3), ("mp-22881", 61), ("mp-28013", 119)]
    with gzip.open(path, "rt", newline="") as fh:
        lines = fh.read().split("\n")
    assert [lines[r.line - 1].split(",")[0] for r in recs] == ["0", "1", "2"]  # the pandas index field


def _frames(jdft2d_records, n):
    from pymatgen.io.ase import AseAtomsAdaptor

    frames = []
    for k, r in enumerate(jdft2d_records[:n]):
        atoms = AseAtomsAdaptor.get_atoms(r.structure)
        atoms.info = {"id": f"f{k}", "K": 1.0 + k}
        frames.append(atoms)
    return frames


def test_extxyz_bad_frame_is_quarantined_at_its_atom_count_line(tmp_path, jdft2d_records):
    """A frame ASE cannot parse (its Lattice has 11 numbers) and a frame without a cell: their lines are
    their atom-count lines (1 + sum of the earlier frames' atoms + 2 each), as an editor shows them."""
    import ase.io
    from ase import Atoms

    from sciml.materials.dataset import build_table
    from sciml.materials.graphs import GraphSettings
    from sciml.materials.readers import read_ase

    frames = _frames(jdft2d_records, 5)
    frames.insert(2, Atoms("H2O", positions=[[0, 0, 0], [0, 0, 0.96], [0.93, 0, -0.24]], info={"id": "water", "K": 1.0}))
    src = tmp_path / "frames.extxyz"
    ase.io.write(src, frames, format="extxyz")
    lines = src.read_text().splitlines(keepends=True)
    starts = [1]
    for atoms in frames:
        starts.append(starts[-1] + len(atoms) + 2)
    assert starts[1] == len(frames[0]) + 3
    bad = starts[4] - 1  # frame 4: break its Lattice
    lines[bad + 1] = lines[bad + 1].replace('Lattice="', 'Lattice="1 2 ', 1)
    src.write_text("".join(lines))
    recs = list(read_ase(src, target_column="K"))
    assert [r.line for r in recs] == starts[:-1]
    assert recs[4].structure is None and recs[4].id == "frame4"
    table = build_table(iter(recs), GraphSettings(cutoff=8.0, max_neighbors=12))
    got = {rid: (line, reason.split(":")[0]) for rid, line, reason in table.quarantine}
    assert got == {"water": (starts[2], "unparsable"), "frame4": (starts[4], "unparsable")}
    assert lines[starts[2] - 1].strip() == "3" and lines[starts[4] - 1].strip() == str(len(frames[4]))


def test_formats_without_lines_leave_the_line_empty(tmp_path, jdft2d_records, shared_data):
    """Matbench JSON entries and a folder's files read for screening have no line: ``line`` is None (an
    empty cell), never a record number that reads like a line; the id (mbid, file name) locates the record.
    A folder's training records carry the line of their id_prop.csv row."""
    from itertools import islice

    from sciml.materials.readers import iter_structure_items, read_matbench_json, read_records
    from sciml.materials.validation import Quarantine

    recs = list(islice(read_matbench_json(shared_data / "materials/matbench_jdft2d.json.gz"), 3))
    assert [r.line for r in recs] == [None, None, None]
    folder = tmp_path / "cifs"
    folder.mkdir()
    (folder / "a.cif").write_text(jdft2d_records[0].structure.to(fmt="cif"))
    (folder / "b.cif").write_text("data_broken\n_cell_length_a 1\n")
    (folder / "id_prop.csv").write_text("a,1.0\nb,2.0\nmissing,3.0\n")
    got = list(read_records(folder))
    assert [(r.id, r.line) for r in got] == [("a", 1), ("b", 2), ("missing", 3)]
    q = Quarantine()
    for r in got[1:]:
        q.add(r, "unparsable: x")
    q.write(tmp_path / "q.csv")
    assert (tmp_path / "q.csv").read_text().splitlines()[1:] == ["b,2,unparsable: x", "missing,3,unparsable: x"]
    assert [r.line for r in read_records(folder, with_targets=False)] == [None, None]
    assert [item[2] for item in iter_structure_items(folder)] == [None, None]


def test_predict_skipped_lines_are_the_input_lines(trained_fold, jdft2d_records, tmp_path):
    """``sciml materials predict`` on a CSV of multi-line CIFs: skipped.csv names each bad record's line."""
    from sciml.materials.steps import predict

    cfg, fold_dir, _ = trained_fold
    src = tmp_path / "in.csv"
    with open(src, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "structure"])
        for r in jdft2d_records[:3]:
            w.writerow([r.id, r.structure.to(fmt="cif")])
        w.writerow(["garbage", "this is not a crystal"])
        w.writerow([jdft2d_records[3].id, json.dumps(jdft2d_records[3].structure.as_dict())])
        w.writerow(["empty", ""])
    lines = src.read_text().splitlines()
    expected = {name: next(k + 1 for k, t in enumerate(lines) if t.startswith(f"{name},"))
                for name in ("garbage", "empty")}
    assert expected["garbage"] > 5  # after three multi-line CIFs
    stats = predict(cfg, fold_dir, src, tmp_path / "out", id_column="name", progress=False)
    assert stats["n_predicted"] == 4 and stats["n_skipped"] == 2
    with open(tmp_path / "out" / "skipped.csv", newline="") as fh:
        got = {r["id"]: int(r["line"]) for r in csv.DictReader(fh)}
    assert got == expected
