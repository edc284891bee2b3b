"""Readers: Matbench JSON, CSV with CIF / POSCAR / dict columns, folder + id_prop.csv."""

from __future__ import annotations

import gzip
import json
import math
from itertools import islice

import pytest

from sciml.errors import DataError
from sciml.materials.readers import (
    parse_structure,
    read_matbench_json,
    read_records,
    read_structure_csv,
    read_structure_folder,
)

MATMINER = "materials/matminer_0.3.9"
JDFT2D = "materials/matbench_jdft2d.json.gz"


def test_matbench_json_reads_all_records(shared_data):
    recs = list(read_matbench_json(shared_data / "materials/matbench_jdft2d.json.gz"))
    assert len(recs) == 636
    assert recs[0].id == "mb-jdft2d-001" and recs[-1].id == "mb-jdft2d-636"
    assert all(r.structure is not None and math.isfinite(r.target) for r in recs)


def test_csv_cif_column_with_unnamed_index(shared_data):
    # matminer files: '# ref' line, header one field short (pandas index column)
    recs = list(islice(read_structure_csv(shared_data / MATMINER / "dielectric_constant.csv.gz",
                                          "structure", "n", "material_id"), 5))
    assert recs[0].id == "mp-441" and recs[0].target == pytest.approx(1.86)
    assert recs[0].structure.composition.reduced_formula == "Rb2Te"


def test_csv_poscar_column_matches_cif(shared_data):
    path = shared_data / MATMINER / "dielectric_constant.csv.gz"
    cif = next(read_structure_csv(path, "structure", "n", "material_id", "cif"))
    pos = next(read_structure_csv(path, "poscar", "n", "material_id", "poscar"))
    assert cif.structure.composition == pos.structure.composition
    assert cif.structure.volume == pytest.approx(pos.structure.volume, rel=1e-4)


def test_csv_python_literal_dict_column(shared_data):
    rec = next(read_structure_csv(shared_data / MATMINER / "flla_2015.csv.gz", "structure",
                                  "formation_energy_per_atom"))
    assert rec.structure is not None and rec.id == "row0" and math.isfinite(rec.target)


def test_literal_dict_is_never_evaluated():
    with pytest.raises(ValueError):
        parse_structure("{'a': __import__('os').system('echo hacked')}", "dict")


def test_bad_record_is_reported_not_raised(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("id,structure,y\na,not a structure,1.0\n")
    (rec,) = list(read_structure_csv(p, "structure", "y", "id"))
    assert rec.structure is None and "not recognised as a pymatgen dict, CIF or POSCAR" in rec.error


def test_missing_column_is_a_data_error(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("id,structure\na,x\n")
    with pytest.raises(DataError, match="target_column"):
        list(read_structure_csv(p, "structure", "y", "id"))


def test_folder_with_id_prop(tmp_path, jdft2d_records):
    from pymatgen.io.cif import CifWriter

    recs = jdft2d_records[:3]
    CifWriter(recs[0].structure).write_file(tmp_path / "a.cif")
    recs[1].structure.to(filename=str(tmp_path / "b.vasp"), fmt="poscar")
    (tmp_path / "c.cif").write_text("data_broken\n_cell_length_a 1\n")
    (tmp_path / "id_prop.csv").write_text(f"a,{recs[0].target}\nb,{recs[1].target}\nc,1.0\nmissing,2.0\n")
    out = list(read_structure_folder(tmp_path))
    assert [r.id for r in out] == ["a", "b", "c", "missing"]
    assert out[0].structure.composition == recs[0].structure.composition
    assert out[1].structure.composition == recs[1].structure.composition
    assert out[0].target == pytest.approx(recs[0].target)
    assert out[2].structure is None and out[3].structure is None
    assert "no structure file" in out[3].error
    # screening use: no id_prop -> every structure file, no targets
    screen = list(read_records(tmp_path, with_targets=False))
    assert [r.id for r in screen] == ["a", "b", "c"] and all(r.target is None for r in screen)


def test_folder_ids_with_dots_and_ids_shared_by_two_files(tmp_path, jdft2d_records):
    """An id 's1.5' is s1.5.cif (not s1.cif with its last part cut); two files of one id (a.cif and
    a.vasp) are refused as ambiguous, in training and in screening, never one silently dropped; an id
    whose file is compressed is told so."""
    from pymatgen.io.cif import CifWriter

    recs = jdft2d_records[:4]
    CifWriter(recs[0].structure).write_file(tmp_path / "s1.cif")
    CifWriter(recs[1].structure).write_file(tmp_path / "s1.5.cif")
    CifWriter(recs[2].structure).write_file(tmp_path / "dup.cif")
    recs[3].structure.to(filename=str(tmp_path / "dup.vasp"), fmt="poscar")
    with gzip.open(tmp_path / "z.cif.gz", "wt") as fh:
        fh.write(recs[0].structure.to(fmt="cif"))
    (tmp_path / "id_prop.csv").write_text("s1,1\ns1.5,2\ndup,3\nz,4\n")
    out = {r.id: r for r in read_structure_folder(tmp_path)}
    assert out["s1"].structure.composition == recs[0].structure.composition
    assert out["s1.5"].structure.composition == recs[1].structure.composition
    assert out["dup"].structure is None and "ambiguous id 'dup'" in out["dup"].error
    assert "dup.cif, dup.vasp" in out["dup"].error
    assert "z.cif.gz is there" in out["z"].error
    assert len(out) == 4  # no 'no_target' record for the files of the ambiguous id
    screen = {r.id: r for r in read_records(tmp_path, with_targets=False)}
    assert screen["s1.5"].structure.composition == recs[1].structure.composition
    assert screen["dup"].structure is None and "ambiguous" in screen["dup"].error


def test_matbench_json_for_screening_needs_no_target_column(tmp_path, jdft2d_records):
    """Screening reads a Matbench-layout file with no target column, or with two, without asking which."""
    structs = [r.structure.as_dict() for r in jdft2d_records[:2]]
    for columns, rows in ((["structure"], [[s] for s in structs]),
                          (["structure", "a", "b"], [[s, 1.0, 2.0] for s in structs])):
        p = tmp_path / f"m{len(columns)}.json"
        p.write_text(json.dumps({"index": ["x", "y"], "columns": columns, "data": rows}))
        got = list(read_records(p, with_targets=False))
        assert [r.id for r in got] == ["x", "y"] and all(r.target is None and r.structure is not None for r in got)
    with pytest.raises(DataError, match="no target column"):
        list(read_records(tmp_path / "m1.json"))


def test_gzip_csv_and_unknown_format(tmp_path, jdft2d_records):
    p = tmp_path / "x.csv.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("id,structure,y\n")
        fh.write(f'q,"{jdft2d_records[0].structure.to(fmt="cif")}",3\n')
    (rec,) = list(read_records(p, target_column="y", id_column="id"))
    assert rec.structure is not None and rec.target == 3.0
    with pytest.raises(DataError):
        list(read_records(tmp_path / "x.txt"))


def _matbench_doc(shared_data, n: int) -> dict:
    import gzip

    with gzip.open(shared_data / JDFT2D, "rt") as fh:
        doc = json.load(fh)
    return {"index": doc["index"][:n], "columns": doc["columns"], "data": doc["data"][:n]}


def test_matbench_json_streams_records_before_the_end_of_the_file(shared_data, tmp_path):
    """Records come out while the file is read: the 636-record file cut off at 95 % of its bytes still yields
    the records of the parser buffers before the cut (in order), then fails naming the file; json.load
    would fail before the first record."""
    doc = _matbench_doc(shared_data, 636)
    text = json.dumps(doc)
    cut = int(len(text) * 0.95)  # inside the data, near record 600
    path = tmp_path / "cut.json"
    path.write_text(text[:cut])
    got = []
    with pytest.raises(DataError) as info:
        for rec in read_matbench_json(path):
            got.append(rec.id)
    assert len(got) >= 500 and got == doc["index"][:len(got)]
    assert "cut.json" in str(info.value)


def test_matbench_json_keys_in_any_order_and_length_mismatch(shared_data, tmp_path):
    doc = _matbench_doc(shared_data, 5)
    path = tmp_path / "reordered.json"
    path.write_text(json.dumps({"data": doc["data"], "columns": doc["columns"], "index": doc["index"]}))
    recs = list(read_matbench_json(path))
    assert [r.id for r in recs] == doc["index"] and all(r.structure is not None for r in recs)
    assert [r.target for r in recs] == [row[doc["columns"].index("exfoliation_en")] for row in doc["data"]]
    bad = tmp_path / "short_index.json"
    bad.write_text(json.dumps({**doc, "index": doc["index"][:3]}))
    with pytest.raises(DataError, match=r"different lengths \(3 ids, 5 rows\)"):
        list(read_matbench_json(bad))


def _cif(structure, name: str) -> str:
    """CIF text of ``structure`` with its data block named ``name``."""
    text = structure.to(fmt="cif")
    return "\n".join(f"data_{name}" if line.startswith("data_") else line for line in text.splitlines()) + "\n"


def test_csv_with_a_utf8_byte_order_mark_is_read(tmp_path, jdft2d_records):
    """Excel's "CSV UTF-8" starts with a BOM, which used to glue itself to the first header name
    ('\\ufeffmpid'): predict, prepare and shard all read the CSV through the same opener."""
    from sciml.materials.readers import iter_structure_items

    p = tmp_path / "bom.csv"
    cif = jdft2d_records[0].structure.to(fmt="cif")
    p.write_bytes("\ufeffmpid,crystal,y\n".encode("utf-8") + f'm-1,"{cif}",2.5\n'.encode("utf-8"))
    (rec,) = list(read_structure_csv(p, "crystal", "y", "mpid"))
    assert rec.id == "m-1" and rec.structure is not None and rec.target == 2.5
    assert [r[0] for r in iter_structure_items(p, structure_column="crystal", id_column="mpid")] == ["m-1"]
    gz = tmp_path / "bom.csv.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    assert next(read_records(gz, structure_column="crystal", target_column="y", id_column="mpid")).id == "m-1"


def test_a_cif_with_several_data_blocks_is_refused_not_cut_to_its_first(tmp_path, jdft2d_records):
    """A multi-block CIF used to give its first structure silently; now the record is bad with the
    count of structures, in a folder and in a CSV cell alike."""
    text = "".join(_cif(r.structure, f"blk{k}") for k, r in enumerate(jdft2d_records[:3]))
    with pytest.raises(ValueError, match=r"CIF holds 3 structures \(data blocks blk0, blk1, blk2\)"):
        parse_structure(text)
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "three.cif").write_text(text)
    (folder / "one.cif").write_text(_cif(jdft2d_records[0].structure, "single"))
    recs = {r.id: r for r in read_records(folder, with_targets=False, arrays=True)}
    assert recs["one"].structure is not None
    assert recs["three"].structure is None and "CIF holds 3 structures" in recs["three"].error
    p = tmp_path / "cells.csv"
    import csv as _csv

    with open(p, "w", newline="") as fh:
        _csv.writer(fh).writerows([["id", "structure", "y"], ["multi", text, "1"]])
    (rec,) = list(read_structure_csv(p, "structure", "y", "id"))
    assert rec.structure is None and "CIF holds 3 structures" in rec.error


def _write_frames(path, jdft2d_records, n):
    import ase.io
    from pymatgen.io.ase import AseAtomsAdaptor

    frames = []
    for k, r in enumerate(jdft2d_records[:n]):
        atoms = AseAtomsAdaptor.get_atoms(r.structure)
        atoms.info = {"id": f"f{k}", "K": 1.0 + k}
        frames.append(atoms)
    ase.io.write(path, frames, format="extxyz")
    return path.read_text().splitlines(keepends=True)


def _frame_start(lines, k):
    """Index of the atom-count line of frame ``k``."""
    i = 0
    for _ in range(k):
        i += int(lines[i]) + 2
    return i


def test_extxyz_bad_frame_lines_skip_that_frame_only(tmp_path, jdft2d_records):
    """A frame whose Lattice or atom line ASE cannot parse is one bad record (with its real frame number);
    the frames after it are still read (before, the whole run stopped)."""
    from sciml.materials.readers import read_ase

    lines = _write_frames(tmp_path / "ok.extxyz", jdft2d_records, 8)
    i = _frame_start(lines, 5)
    lines[i + 1] = lines[i + 1].replace('Lattice="', 'Lattice="1 2 ', 1)  # 11 numbers: not a 3x3 matrix
    bad = tmp_path / "bad_lattice.extxyz"
    bad.write_text("".join(lines))
    recs = list(read_ase(bad, target_column="K"))
    assert [r.id for r in recs] == ["f0", "f1", "f2", "f3", "f4", "frame5", "f6", "f7"]
    # line: the frame's atom-count line in the file (1-based), not the frame number
    assert recs[5].structure is None and recs[5].line == i + 1 and "ASE cannot parse frame 5" in recs[5].error
    assert recs[6].line == _frame_start(lines, 6) + 1 and recs[6].target == 7.0 and recs[6].structure is not None
    assert [r.line for r in recs] == [_frame_start(lines, k) + 1 for k in range(8)]


def test_extxyz_broken_atom_count_names_the_real_frame_and_line(tmp_path, jdft2d_records):
    """ASE indexes every frame before yielding one, so a bad atom-count line in frame 6 used to be
    reported as 'frame 0 ... 0 frame(s) before it were read'."""
    from sciml.materials.readers import read_ase

    lines = _write_frames(tmp_path / "ok.extxyz", jdft2d_records, 8)
    i = _frame_start(lines, 6)
    lines[i] = "abc\n"
    bad = tmp_path / "bad_count.extxyz"
    bad.write_text("".join(lines))
    with pytest.raises(DataError, match=rf"frame 6 \(line {i + 1}\): expected its atom-count line, got 'abc'"):
        list(read_ase(bad))
    lines = _write_frames(tmp_path / "ok.extxyz", jdft2d_records, 8)
    lines[i] = f"{int(lines[i]) + 1}\n"  # one atom too many: the next frame's count line is read as an atom
    bad.write_text("".join(lines))
    with pytest.raises(DataError, match=r"frame 6 .*ASE cannot parse"):
        list(read_ase(bad))
    empty = tmp_path / "empty.extxyz"
    empty.write_text("")
    with pytest.raises(DataError, match="empty file"):
        list(read_ase(empty))


def test_missing_or_text_targets_are_named_in_the_reason(tmp_path, jdft2d_records):
    """A text target keeps its text, a wrong extxyz target key names the key and the keys present,
    an empty Matbench JSON says so (not ijson's 'premature EOF')."""
    from sciml.materials.dataset import build_table
    from sciml.materials.graphs import GraphSettings

    p = tmp_path / "t.csv"
    cif = jdft2d_records[0].structure.to(fmt="cif")
    p.write_text(f'id,structure,y\na,"{cif}",n/a\nb,"{cif}",\n')
    table = build_table(read_structure_csv(p, "structure", "y", "id"), GraphSettings())
    assert [r[2] for r in table.quarantine] == [
        "bad_target: target 'n/a' is not a number (must be a finite number)",
        "bad_target: target is empty (must be a finite number)"]
    _write_frames(tmp_path / "f.extxyz", jdft2d_records, 2)
    table = build_table(read_records(tmp_path / "f.extxyz", target_column="K_VRH"), GraphSettings())
    assert table.quarantine[0][2] == ("bad_target: frame has no 'K_VRH' (target_column) in its info or calculator "
                                      "results; keys: ['K', 'id'] (must be a finite number)")
    (tmp_path / "e.json").write_text("")
    with pytest.raises(DataError, match="e.json: empty file"):
        list(read_matbench_json(tmp_path / "e.json"))


def test_ignored_folder_files_are_listed(tmp_path, jdft2d_records):
    from sciml.materials.readers import ignored_files

    (tmp_path / "a.cif").write_text(jdft2d_records[0].structure.to(fmt="cif"))
    (tmp_path / "b.cif.gz").write_bytes(gzip.compress(b"x"))
    (tmp_path / "c.xyz").write_text("1\n\nH 0 0 0\n")
    (tmp_path / "POSCAR_1").write_text(jdft2d_records[1].structure.to(fmt="poscar"))
    (tmp_path / "id_prop.csv").write_text("a,1\n")
    assert ignored_files(tmp_path) == ["b.cif.gz", "c.xyz"]


def test_an_id_prop_csv_that_is_not_utf8_is_a_data_error_naming_it_and_its_line(tmp_path, jdft2d_records):
    """Excel on Windows saves 'K_VRH (Å)' in cp1252: the reader named nothing (a raw UnicodeDecodeError)."""
    from sciml.errors import DataError

    jdft2d_records[0].structure.to(filename=str(tmp_path / "a.cif"))
    (tmp_path / "id_prop.csv").write_bytes(b"id,K_VRH (\xc5)\na,1.0\n")
    with pytest.raises(DataError) as info:
        list(read_structure_folder(tmp_path))
    err = info.value
    assert err.path.endswith("id_prop.csv") and err.record == "line 1" and "UTF-8" in str(err)
