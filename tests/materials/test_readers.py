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
    assert rec.structure is None and "cannot parse" in rec.error


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
