"""Screening at scale: the fast (pymatgen-free) parsing path, shard -> predict -> gather, and
the sharded Snakemake workflow (a lost shard reruns alone)."""

from __future__ import annotations

import csv
import gzip
import json
import re
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from sciml.errors import DataError
from sciml.materials.graphs import GraphSettings, structure_graph
from sciml.materials.readers import (CrystalArrays, RawRecord, _arrays_from_dict, parse_structure,
                                     parse_structure_arrays, read_records)
from sciml.materials.validation import check_record

JDFT2D = "materials/matbench_jdft2d.json.gz"
FLLA = "materials/matminer_0.3.9/flla_2015.csv.gz"
DIELECTRIC = "materials/matminer_0.3.9/dielectric_constant.csv.gz"


def _jdft2d_dicts(shared_data, n):
    with gzip.open(shared_data / JDFT2D, "rt") as fh:
        doc = json.load(fh)
    col = doc["columns"].index("structure")
    return [(mbid, row[col]) for mbid, row in islice(zip(doc["index"], doc["data"]), n)]


def _csv_column(path, column, n):
    from sciml.materials.readers import _csv_dict_rows  # the reader's header handling (pandas index column)

    return [row[column] for _, _, row in islice(_csv_dict_rows(Path(path), column, None, None), n)]


def _assert_same(arrays, structure):
    assert isinstance(arrays, CrystalArrays)
    assert arrays.z.tolist() == [site.specie.Z for site in structure]
    assert np.array_equal(arrays.lattice_matrix, structure.lattice.matrix)
    assert np.array_equal(arrays.frac_coords, structure.frac_coords)
    assert arrays.pbc == tuple(structure.lattice.pbc)
    assert arrays.reduced_formula == structure.composition.reduced_formula
    settings = GraphSettings()
    fast, slow = structure_graph(arrays, settings), structure_graph(structure, settings)
    assert np.array_equal(fast.z, slow.z) and np.array_equal(fast.edge_index, slow.edge_index)
    assert np.array_equal(fast.distance, slow.distance) and fast.isolated == slow.isolated


def test_fast_arrays_equal_pymatgen_on_shipped_structures(shared_data):
    """Same arrays, formula and graph (bit for bit) as pymatgen on real structures of every
    layout: Matbench dicts, flla Python-literal dicts (fast path), dielectric CIF and POSCAR."""
    n_fast = 0
    for _, d in _jdft2d_dicts(shared_data, 80):
        assert _arrays_from_dict(d) is not None  # took the fast path
        _assert_same(parse_structure_arrays(d), parse_structure(d, "dict"))
        text = json.dumps(d)
        _assert_same(parse_structure_arrays(text), parse_structure(text))
        n_fast += 1
    for text in _csv_column(shared_data / FLLA, "structure", 40):
        _assert_same(parse_structure_arrays(text), parse_structure(text))
    for col in ("structure", "poscar"):  # CIF / POSCAR: pymatgen parses, then arrays
        for text in _csv_column(shared_data / DIELECTRIC, col, 10):
            _assert_same(parse_structure_arrays(text), parse_structure(text))
    assert n_fast == 80


def test_fast_path_falls_back_to_pymatgen_with_its_reasons(shared_data):
    _, d = _jdft2d_dicts(shared_data, 1)[0]
    disordered = json.loads(json.dumps(d))
    disordered["sites"][0]["species"] = [{"element": "Mo", "occu": 0.5}, {"element": "W", "occu": 0.5}]
    assert _arrays_from_dict(disordered) is None
    rec = RawRecord("x", parse_structure_arrays(disordered), None)
    _, reason = check_record(rec, GraphSettings(), need_target=False)
    assert reason.startswith("element: disordered site")
    oxidised = json.loads(json.dumps(d))
    for site in oxidised["sites"]:
        site["species"][0]["oxidation_state"] = 0
    fast = parse_structure_arrays(oxidised)
    _assert_same(fast, parse_structure(oxidised, "dict"))
    for bad in ("{not a dict", '{"lattice": {"matrix": [[1, 0, 0]]}, "sites": []}', "garbage text", ""):
        with pytest.raises(ValueError) as slow:
            parse_structure(bad)
        with pytest.raises(ValueError) as quick:
            parse_structure_arrays(bad)
        assert str(quick.value) == str(slow.value)


def _write_candidates(path, shared_data, n=12):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "structure"])
        for mbid, d in _jdft2d_dicts(shared_data, n):
            w.writerow([mbid, json.dumps(d)])
        w.writerow(["garbage", "not a crystal"])
        _, d = _jdft2d_dicts(shared_data, 1)[0]
        d = json.loads(json.dumps(d))
        d["sites"].append(d["sites"][0])
        w.writerow(["overlap", json.dumps(d)])
    return path


def test_fast_path_predictions_equal_the_pymatgen_path(trained_fold, shared_data, tmp_path):
    """Scoring the same file through both readers gives the same rows (graphs and collate equal)."""
    import torch
    from torch_geometric.data import Batch, Data

    from sciml.materials.saved_model import load
    from sciml.materials.screening import collate, predict_records

    _, fold_dir, _ = trained_fold
    model, spec = load(fold_dir)
    src = _write_candidates(tmp_path / "c.csv", shared_data, 30)

    def score(arrays):
        rows, rejected = [], []
        for r, j in predict_records(model, spec, read_records(src, id_column="name", with_targets=False,
                                                              arrays=arrays), batch_size=8):
            rows += r
            rejected += [(rec.id, reason) for rec, reason in j]
        return rows, rejected

    fast, slow = score(True), score(False)
    assert [r[:3] for r in fast[0]] == [r[:3] for r in slow[0]] and len(fast[0]) == 30
    assert np.allclose([r[3] for r in fast[0]], [r[3] for r in slow[0]], rtol=1e-6, atol=1e-9)
    assert fast[1] == slow[1] and [i for i, _ in fast[1]] == ["garbage", "overlap"]
    # the vectorised collate builds what Batch.from_data_list builds
    recs = list(islice(read_records(src, id_column="name", with_targets=False, arrays=True), 5))
    graphs = [check_record(r, GraphSettings(), need_target=False)[0] for r in recs]
    ours = collate(graphs)
    ref = Batch.from_data_list([Data(z=torch.from_numpy(g.z), edge_index=torch.from_numpy(g.edge_index),
                                     distance=torch.from_numpy(g.distance), num_nodes=len(g.z)) for g in graphs])
    for key in ("z", "edge_index", "distance", "batch", "ptr"):
        assert torch.equal(getattr(ours, key), getattr(ref, key)), key
    assert ours.num_graphs == 5


def test_shard_round_robin_and_consecutive(tmp_path, shared_data):
    from sciml.materials.readers import iter_structure_items
    from sciml.materials.steps import shard
    from tests.materials.conftest import tiny_config

    src = _write_candidates(tmp_path / "c.csv", shared_data, 5)  # 7 records
    cfg = tiny_config(screening={"id_column": "name"})
    m = shard(cfg, src, tmp_path / "rr", n_shards=3)
    assert m["n_structures"] == 7 and [s["n_structures"] for s in m["shards"]] == [3, 2, 2]
    assert json.loads((tmp_path / "rr" / "shards.json").read_text()) == m
    ids = [[row[0] for row in iter_structure_items(tmp_path / "rr" / s["file"], id_column="id")] for s in m["shards"]]
    names = [r[0] for r in iter_structure_items(src, id_column="name")]
    assert ids == [names[0::3], names[1::3], names[2::3]]
    m2 = shard(cfg, src, tmp_path / "cons", structures_per_shard=3)
    assert m2["n_shards"] == 3 and [s["n_structures"] for s in m2["shards"]] == [3, 3, 1]
    # a shard's text parses back to the same structure
    (rid, text, _, _), = islice(iter_structure_items(tmp_path / "cons" / "shard_0000.csv.gz", id_column="id"), 1)
    assert rid == names[0]
    _assert_same(parse_structure_arrays(text), parse_structure(dict(_jdft2d_dicts(shared_data, 1))[rid], "dict"))
    # Matbench JSON input: mbids kept, every record dealt
    m3 = shard(cfg, shared_data / JDFT2D, tmp_path / "mb", n_shards=4)
    assert m3["n_structures"] == 636 and [s["n_structures"] for s in m3["shards"]] == [159] * 4
    first = next(iter_structure_items(tmp_path / "mb" / "shard_0001.csv.gz", id_column="id"))
    assert first[0] == "mb-jdft2d-002"


def test_shard_a_folder_of_cif_files(tmp_path, shared_data):
    from sciml.materials.steps import shard
    from tests.materials.conftest import tiny_config

    folder = tmp_path / "cifs"
    folder.mkdir()
    for mbid, d in _jdft2d_dicts(shared_data, 3):
        (folder / f"{mbid}.cif").write_text(parse_structure(d, "dict").to(fmt="cif"))
    m = shard(tiny_config(), folder, tmp_path / "out", n_shards=2)
    assert m["n_structures"] == 3 and [s["n_structures"] for s in m["shards"]] == [2, 1]


def _screen(cfg, fold_dir, src, tmp_path, n_shards, **gather_kw):
    from sciml.materials.steps import gather, predict, shard

    m = shard(cfg, src, tmp_path / "shards", n_shards=n_shards)
    dirs = []
    for s in m["shards"]:
        d = tmp_path / "scored" / s["name"]
        predict(cfg, fold_dir, tmp_path / "shards" / s["file"], d, id_column="id", progress=False)
        dirs.append(d)
    summary = gather(cfg, dirs, tmp_path / "section", manifest=tmp_path / "shards" / "shards.json", **gather_kw)
    return m, dirs, summary


def test_gather_ranks_every_shard_and_reports_skips(trained_fold, shared_data, tmp_path):
    import pandas as pd

    from sciml.report import read_section

    cfg, fold_dir, _ = trained_fold
    cfg = {**cfg, "screening": {**cfg["screening"], "id_column": "name"}}
    src = _write_candidates(tmp_path / "c.csv", shared_data, 12)  # 12 good + 2 bad
    m, dirs, summary = _screen(cfg, fold_dir, src, tmp_path, 3, order="ascending", top_k=5)
    assert summary["n_structures"] == 14 and summary["n_predicted"] == 12 and summary["n_skipped"] == 2
    assert summary["skipped_by_reason"] == {"too_close": 1, "unparsable": 1}
    # record 12 (garbage) and 13 (overlap) land in shards 0 and 1 (round robin)
    per = {s["shard"]: s for s in summary["shards"]}
    assert per["shard_0000"]["skipped_by_reason"] == {"unparsable": 1}
    assert per["shard_0001"]["skipped_by_reason"] == {"too_close": 1}
    out = tmp_path / "section"
    # line: the record's line in the user's CSV (header = line 1, one line per record), not its row number
    lines = {r["id"]: r["line"] for r in pd.read_csv(out / "skipped.csv", dtype={"id": str}).to_dict("records")}
    assert lines == {"garbage": 14, "overlap": 15}
    assert src.read_text().splitlines()[13].startswith("garbage,")
    ranked = pd.read_csv(out / "ranked.csv", dtype={"id": str})
    single = pd.concat([pd.read_csv(d / "predictions.csv", dtype={"id": str}) for d in dirs])
    assert sorted(ranked["id"]) == sorted(single["id"]) and len(ranked) == 12
    assert ranked["prediction"].is_monotonic_increasing and list(ranked["rank"]) == list(range(1, 13))
    assert ranked["prediction"].iloc[0] == pytest.approx(single["prediction"].min(), rel=1e-5)
    top = pd.read_csv(out / "top_k.csv", dtype={"id": str})
    assert list(top["id"]) == list(ranked["id"][:5])
    skipped = pd.read_csv(out / "skipped.csv", dtype={"id": str})
    assert sorted(skipped["id"]) == ["garbage", "overlap"] and set(skipped["shard"]) == {"shard_0000", "shard_0001"}
    section = read_section(out / "section.json")
    assert section.domain == "materials_screening" and (out / section.figures[0].path).is_file()
    assert any("2 of 14 structures skipped" in w for w in section.warnings)
    assert [r[1] for r in section.tables[0].rows] == list(top["id"])
    assert len(section.provenance) == 5 and all((out / p).is_file() for p in section.provenance)
    # the shard step's record comes first: it holds the sha256 of the user's input file
    import json

    from sciml.io import sha256_file

    shard_record = json.loads((out / section.provenance[0]).read_text())
    assert shard_record["step"] == "materials.shard" and sha256_file(src) in shard_record["inputs_sha256"].values()
    # descending: the reverse order
    from sciml.materials.steps import gather

    gather(cfg, dirs, tmp_path / "desc", order="descending", top_k=3)
    desc = pd.read_csv(tmp_path / "desc" / "ranked.csv", dtype={"id": str})
    assert desc["prediction"].is_monotonic_decreasing and desc["id"].iloc[0] == ranked["id"].iloc[-1]


def test_gather_refuses_a_shard_that_lost_records(trained_fold, shared_data, tmp_path):
    from sciml.materials.steps import gather

    cfg, fold_dir, _ = trained_fold
    cfg = {**cfg, "screening": {**cfg["screening"], "id_column": "name"}}
    src = _write_candidates(tmp_path / "c.csv", shared_data, 4)
    m, dirs, _ = _screen(cfg, fold_dir, src, tmp_path, 2)
    pred = dirs[1] / "predictions.csv"
    pred.write_text("".join(pred.read_text().splitlines(keepends=True)[:-1]))  # one row lost
    with pytest.raises(DataError, match="shard holds 3 structures but 1 were scored and 1 skipped"):
        gather(cfg, dirs, tmp_path / "again", manifest=tmp_path / "shards" / "shards.json")
    with pytest.raises(DataError, match="1 shard\\(s\\) not gathered: shard_0001"):
        gather(cfg, dirs[:1], tmp_path / "again", manifest=tmp_path / "shards" / "shards.json")


def test_dry_run_adds_screening_to_the_report_only_when_enabled(workflow_runner, trained_fold, tmp_path):
    _, fold_dir, _ = trained_fold
    off = workflow_runner({"domains": ["materials"]}, extra_args=("-n",))
    assert "screening_shard" not in off.stdout + off.stderr
    on = workflow_runner({"domains": ["materials"], "materials": {"screening": {
        "enabled": True, "input": "materials/flla_2015_subset1000.csv.gz", "model_dir": str(fold_dir)}}},
        extra_args=("-n",))
    out = on.stdout + on.stderr
    assert "screening_shard" in out and "screening_gather" in out and "rule report" in out


@pytest.mark.slow
@pytest.mark.e2e
def test_sharded_workflow_and_a_lost_shard_reruns_alone(workflow_runner, trained_fold, shared_data, tmp_path):
    import pandas as pd

    _, fold_dir, _ = trained_fold
    src = _write_candidates(tmp_path / "c.csv", shared_data, 10)
    cfg = {"domains": ["materials"], "materials": {"screening": {
        "enabled": True, "input": str(src), "id_column": "name", "model_dir": str(fold_dir), "n_shards": 3,
        "top_k": 4}}}
    res = tmp_path / "results"
    target = str(res / "materials/screening/section/section.json")
    workflow_runner(cfg, targets=(target,))
    sec = res / "materials/screening/section"
    summary = json.loads((sec / "summary.json").read_text())
    assert summary["n_predicted"] == 10 and summary["n_skipped"] == 2 and summary["n_shards"] == 3
    ranked = pd.read_csv(sec / "ranked.csv", dtype={"id": str})
    assert len(ranked) == 10 and len(pd.read_csv(sec / "top_k.csv")) == 4
    for k in range(3):
        assert (res / f"benchmarks/screening_predict_shard_000{k}.tsv").is_file()
    # a killed run: shard 1's job died (atomic write: no predictions file), so gather never ran;
    # the rerun scores that shard alone, then gathers
    (res / "materials/screening/scored/shard_0001/predictions.csv").unlink()
    for f in sec.iterdir():
        f.unlink()
    proc = workflow_runner(cfg, targets=(target,))
    log = proc.stdout + proc.stderr
    assert len(re.findall(r"rule screening_predict:", log)) == 1 and "shard_0001" in log
    assert "rule screening_shard:" not in log and "rule screening_gather:" in log
    assert pd.read_csv(sec / "ranked.csv", dtype={"id": str}).equals(ranked)


def test_sharded_extxyz_keeps_a_frames_reason_and_line(trained_fold, jdft2d_records, tmp_path):
    """A frame that could not be read (no cell) was written to its shard as an empty structure, so the
    sharded run reported 'unparsable: empty structure field' at the row inside the shard; now the
    shard carries the frame's own reason and number, as an unsharded predict reports them."""
    import ase.io
    import pandas as pd
    from ase import Atoms
    from pymatgen.io.ase import AseAtomsAdaptor

    cfg, fold_dir, _ = trained_fold
    frames = []
    for r in jdft2d_records[:6]:
        atoms = AseAtomsAdaptor.get_atoms(r.structure)
        atoms.info = {"id": r.id}
        frames.append(atoms)
    frames.insert(3, Atoms("H2O", positions=[[0, 0, 0], [0, 0, 0.96], [0.93, 0, -0.24]], info={"id": "water"}))
    src = tmp_path / "mixed.extxyz"
    ase.io.write(src, frames, format="extxyz")
    _, _, summary = _screen(cfg, fold_dir, src, tmp_path, 2)
    assert summary["n_predicted"] == 6 and summary["n_skipped"] == 1
    skipped = pd.read_csv(tmp_path / "section" / "skipped.csv", dtype={"id": str})
    (row,) = skipped.to_dict("records")
    # line: the frame's atom-count line in the user's file (frames 0-2 hold n0..n2 atoms, 2 header lines each)
    starts = [1]
    for atoms in frames:
        starts.append(starts[-1] + len(atoms) + 2)
    assert src.read_text().splitlines()[starts[3] - 1].strip() == "3"  # water's atom count
    assert row["id"] == "water" and row["line"] == starts[3] and row["shard"] == "shard_0001"
    assert row["reason"] == "unparsable: frame has no 3D cell (Lattice= in extxyz); a periodic crystal is needed"
    # scored rows of a shard report their line in the input too (round robin: frames 1, 3, 5 in shard 1)
    from sciml.materials.readers import read_records

    lines = [r.line for r in read_records(tmp_path / "shards" / "shard_0001.csv.gz", id_column="id")]
    assert lines == [starts[1], starts[3], starts[5]]


def test_screening_nothing_warns(trained_fold, tmp_path, capsys):
    """A folder of files the reader does not read (.cif.gz, .xyz) or an empty one gave '0 predicted',
    exit 0 and no word; now the ignored files are counted and 0 predictions is a warning."""
    from sciml.materials.steps import predict

    cfg, fold_dir, _ = trained_fold
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.cif.gz").write_bytes(gzip.compress(b"data_x\n"))
    (folder / "b.xyz").write_text("1\n\nH 0 0 0\n")
    stats = predict(cfg, fold_dir, folder, tmp_path / "out", progress=False, device="cpu")
    err = capsys.readouterr().err
    assert stats["n_predicted"] == 0 and stats["n_ignored_files"] == 2
    assert "2 file(s)" in err and "a.cif.gz, b.xyz" in err and "no structure was predicted" in err
    assert any("no structure was predicted" in w for w in stats["warnings"])
    # sharded: the manifest and the gathered summary and report section carry the warnings
    from sciml.report import read_section

    _, _, summary = _screen(cfg, fold_dir, folder, tmp_path / "sharded", 1)
    assert any("were ignored" in w for w in summary["warnings"])
    assert any("no structure was scored" in w for w in summary["warnings"])
    section = read_section(tmp_path / "sharded" / "section" / "section.json")
    assert any("no structure was scored" in w for w in section.warnings)
