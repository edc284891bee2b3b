"""A user's own crystal datasets: folder/Matbench target names, units of errors, Matbench task checks,
broken model files and shards, and the record-level problems readers must report."""

from __future__ import annotations

import csv
import gzip
import json
import shutil

import pytest

from sciml.errors import ConfigError, DataError
from tests.materials.conftest import tiny_config  # noqa: F401  (importlib mode: package path)


def _matbench_file(path, records, column="K_VRH", n=30):
    """A Matbench split-layout file of ``records`` (structure + ``column``)."""
    doc = {"index": [r.id for r in records[:n]], "columns": ["structure", column],
           "data": [[r.structure.as_dict(), float(r.target)] for r in records[:n]]}
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        json.dump(doc, fh)
    return path


def _cif_folder(folder, records, n=4):
    folder.mkdir()
    for r in records[:n]:
        (folder / f"{r.id}.cif").write_text(r.structure.to(fmt="cif"))
    return folder


def test_a_folder_dataset_is_not_labelled_with_another_datasets_column():
    from sciml.materials.dataset import target_labels

    cfg = tiny_config(dataset={"path": "poscar_folder", "unit": "GPa"})
    assert target_labels(cfg["dataset"]) == ("target", "GPa")
    cfg = tiny_config(dataset={"path": "poscar_folder", "target_name": "bulk modulus"})
    assert target_labels(cfg["dataset"]) == ("bulk modulus", "unit not given")
    # the built-in dataset keeps its labels
    assert target_labels(tiny_config()["dataset"]) == ("formation energy per atom", "eV/atom")


@pytest.mark.parametrize("explicit_null", [False, True])
def test_matbench_default_target_is_its_only_other_column(tmp_path, jdft2d_records, explicit_null):
    from sciml.materials.steps import prepare

    _matbench_file(tmp_path / "mb.json.gz", jdft2d_records, n=12)
    dataset = {"path": "mb.json.gz", "limit": None, "unit": "GPa"}
    if explicit_null:
        dataset["target_column"] = None
    summary = prepare(tiny_config(dataset=dataset), tmp_path, tmp_path / "prepared", tmp_path / "cache")
    assert summary["n_records"] == 12 and summary["target_column"] == "K_VRH"
    assert (summary["target_name"], summary["unit"]) == ("K_VRH", "GPa")



def test_a_null_target_column_and_the_column_it_reads_share_one_cache(tmp_path, jdft2d_records):
    """prepare/train resolve the column before loading; a notebook or benchmark passing the raw config
    must hit the same graph cache, not build (for CHGNet: featurise) the dataset again."""
    from sciml.materials.dataset import cache_key
    from sciml.materials.graphs import GraphSettings

    _matbench_file(tmp_path / "mb.json.gz", jdft2d_records, n=12)
    raw = tiny_config(dataset={"path": "mb.json.gz", "limit": None})["dataset"]
    graph = GraphSettings(**tiny_config()["graph"])
    keys = {cache_key(tmp_path / "mb.json.gz", {**raw, "target_column": col}, graph, {}) for col in (None, "K_VRH")}
    assert len(keys) == 1

@pytest.fixture(scope="module")
def log10_run(tmp_path_factory, jdft2d_records):
    """A 30-record Matbench file trained with transform log10 (1 epoch), prepared and sectioned as
    matbench_jdft2d (which it is not: 30 records, log10)."""
    from sciml.materials.steps import prepare, train

    base = tmp_path_factory.mktemp("log10")
    _matbench_file(base / "mb.json.gz", jdft2d_records, column="exfoliation_en", n=30)
    cfg = tiny_config(dataset={"path": "mb.json.gz", "limit": None, "transform": "log10", "unit": "meV/atom",
                               "matbench_task": "matbench_jdft2d"},
                      cv={"n_splits": 3, "folds": [0]}, train={"max_epochs": 1, "batch_size": 8})
    fold = train(cfg, 0, base, base / "fold_0", base / "ckpt", base / "cache", threads=1)
    prepare(cfg, base, base / "prepared", base / "cache")
    return cfg, base, fold


def test_errors_of_a_log10_target_carry_the_error_unit(log10_run, tmp_path, capsys):
    from sciml.materials.steps import section

    cfg, base, fold = log10_run
    assert (fold["unit"], fold["target_unit"], fold["target"]) == ("log10 units (dex)", "meV/atom", "exfoliation_en")
    assert json.loads((base / "fold_0" / "metrics.json").read_text())["unit"] == "log10 units (dex)"
    m = section(cfg, base / "prepared", [base / "fold_0"], tmp_path / "section")
    assert (m["unit"], m["target_unit"], m["target"]) == ("log10 units (dex)", "meV/atom", "exfoliation_en")
    # the Matbench task named does not fit this dataset: said in metrics, report and stderr
    protocol, w = m["matbench_task_mismatch"]
    assert "30 records, the task has 636" in w and "transform log10" in w
    assert "cv.n_splits 3" in protocol  # and its folds are not the task's
    assert w in json.loads((tmp_path / "section" / "section.json").read_text())["warnings"]
    assert "does not look like that task" in capsys.readouterr().err


def test_section_takes_the_folds_own_mae(log10_run, tmp_path):
    """The section recomputed each fold's MAE from predictions.csv (6 significant digits)."""
    from sciml.materials.steps import section

    cfg, base, _ = log10_run
    fold = tmp_path / "fold_0"
    shutil.copytree(base / "fold_0", fold)
    m = json.loads((fold / "metrics.json").read_text())
    m["test"]["mae"] = 0.1234567
    (fold / "metrics.json").write_text(json.dumps(m))
    out = section(cfg, base / "prepared", [fold], tmp_path / "section")
    assert out["per_fold"][0]["mae"] == 0.123457 and out["mae_mean"] == 0.123457


def test_a_matching_matbench_task_gives_no_warning():
    from sciml.materials.anchors import leaderboard, task_mismatch

    board = leaderboard("matbench_log_kvrh")
    ok = {"transform": "log10", "unit": "GPa"}
    assert task_mismatch("matbench_log_kvrh", board, 10987, ok) == []
    (w,) = task_mismatch("matbench_log_kvrh", board, 80, {"transform": "none", "unit": "eV"})
    assert "80 records" in w and "transform none" in w and "unit eV, the task's is GPa" in w


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_a_broken_weight_file_is_a_data_error_naming_it(trained_fold, tmp_path, damage, capsys):
    from sciml.cli import main

    _, fold_dir, _ = trained_fold
    model_dir = tmp_path / "model"
    shutil.copytree(fold_dir, model_dir)
    weights = model_dir / "model.pt"
    data = weights.read_bytes()
    weights.write_bytes(b"" if damage == "empty" else data[:5000])
    src = tmp_path / "in.csv"
    src.write_text("id,structure\n")
    rc = main(["materials", "predict", "--model-dir", str(model_dir), "--input", str(src),
               "--out-dir", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and str(weights) in err and ("empty weight file" in err or "truncated or corrupt" in err)


def test_a_corrupted_weight_file_or_another_folds_model_json_is_refused(trained_fold, tmp_path, capsys):
    """model.json records each weight file's sha256: one flipped byte that torch still loads (predictions
    would silently change, even to inf), or a model.json from other weights beside them, is a DataError."""
    import json

    from sciml.cli import main
    from tests.materials.conftest import corrupted_copy

    _, fold_dir, _ = trained_fold
    src = tmp_path / "in.csv"
    src.write_text("id,structure\n")
    flipped = tmp_path / "flipped"
    shutil.copytree(fold_dir, flipped)
    corrupted_copy(fold_dir / "model.pt", flipped / "model.pt")
    other = tmp_path / "other"
    shutil.copytree(fold_dir, other)
    spec = json.loads((other / "model.json").read_text())
    spec["weights_sha256"]["model.pt"] = "0" * 64  # as another fold's model.json would say
    (other / "model.json").write_text(json.dumps(spec))
    for folder in (flipped, other):
        rc = main(["materials", "predict", "--model-dir", str(folder), "--input", str(src),
                   "--out-dir", str(tmp_path / "out"), "--no-progress"])
        err = capsys.readouterr().err
        assert rc == 2 and str(folder / "model.pt") in err, err
        assert "sha256 differs from the one model.json records" in err or "truncated or corrupt" in err, err
    bad_kwargs = tmp_path / "kwargs"
    shutil.copytree(fold_dir, bad_kwargs)
    spec = json.loads((bad_kwargs / "model.json").read_text())
    spec["model_kwargs"]["extra_key"] = 1
    (bad_kwargs / "model.json").write_text(json.dumps(spec))
    rc = main(["materials", "predict", "--model-dir", str(bad_kwargs), "--input", str(src),
               "--out-dir", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "model.json" in err and "model_kwargs do not build" in err, err


def test_gather_names_a_missing_shard_file(tmp_path):
    from sciml.materials.steps import gather

    shard = tmp_path / "shard_0000"
    shard.mkdir()
    with pytest.raises(DataError) as exc:
        gather(tiny_config(), [shard], tmp_path / "out", fmt="parquet")
    assert exc.value.path == str(shard / "predictions.parquet") and "missing" in str(exc.value)


def test_a_cif_that_fails_keeps_the_parsers_reason(jdft2d_records):
    from pymatgen.io.cif import CifWriter

    from sciml.materials.readers import parse_structure

    s = jdft2d_records[0].structure.copy()
    s.append(s[0].specie, s[0].frac_coords, validate_proximity=False)  # two atoms on one site
    with pytest.raises(ValueError, match="no structures.*parser: .*Occupancy 2.0 exceeded tolerance"):
        parse_structure(str(CifWriter(s)), "cif")


def test_folder_without_id_prop_names_the_missing_file(tmp_path, jdft2d_records):
    from sciml.materials.readers import read_structure_folder

    folder = _cif_folder(tmp_path / "f", jdft2d_records)
    with pytest.raises(DataError) as exc:
        list(read_structure_folder(folder))
    assert exc.value.path == str(folder / "id_prop.csv") and "missing" in exc.value.reason


def test_folder_header_and_files_without_a_row(tmp_path, jdft2d_records):
    from sciml.materials.dataset import build_table
    from sciml.materials.graphs import GraphSettings
    from sciml.materials.readers import read_structure_folder

    folder = _cif_folder(tmp_path / "f", jdft2d_records, n=4)
    ids = [r.id for r in jdft2d_records[:4]]
    (folder / "id_prop.csv").write_text("material_id,K_VRH\n" + "".join(f"{i},{k + 1}.5\n" for k, i in
                                                                         enumerate(ids[:3])))
    recs = list(read_structure_folder(folder))
    assert [r.id for r in recs] == ids[:3] + [ids[3]]
    assert [r.line for r in recs] == [2, 3, 4, None] and [r.target for r in recs[:3]] == [1.5, 2.5, 3.5]
    table = build_table(recs, GraphSettings())
    assert table.quarantine == [[ids[3], None, f"no_target: structure file {ids[3]}.cif has no row in id_prop.csv"]]


def test_predict_reports_parser_warnings_without_claiming_kept():
    from sciml.materials.validation import describe_parser_warnings

    note = describe_parser_warnings({"n_records_with_parser_warnings": 2, "parser_warnings": {"x": 2}}, 5, "f.csv")
    assert "were kept" not in note and note.startswith("2 of 5 structures parsed with parser warnings")


def test_empty_ids_are_quarantined_and_repeats_counted_in_predict(trained_fold, jdft2d_records, tmp_path, capsys):
    from sciml.materials.readers import read_structure_csv
    from sciml.materials.steps import predict

    cfg, fold_dir, _ = trained_fold
    src = tmp_path / "in.csv"
    with open(src, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "structure", "y"])
        for name, r in zip(["a", "", "a", "b"], jdft2d_records):
            w.writerow([name, r.structure.to(fmt="poscar"), 1.0])
    recs = list(read_structure_csv(src, target_column="y", id_column="name"))
    assert recs[1].id == "row1" and recs[1].structure is None
    assert recs[1].error == f"bad_id: empty id in column 'name' (line {recs[1].line})" and recs[1].line > 2
    stats = predict(cfg, fold_dir, src, tmp_path / "out", id_column="name", progress=False)
    assert stats["n_predicted"] == 3 and stats["n_skipped"] == 1
    assert stats["n_duplicate_ids"] == 1 and stats["duplicate_ids"] == ["a"] and stats["duplicate_check_complete"]
    skipped = list(csv.DictReader(open(tmp_path / "out" / "skipped.csv")))
    assert skipped[0]["id"] == "row1" and skipped[0]["reason"].startswith("bad_id: empty id")
    assert "repeat the id of an earlier record (e.g. a)" in capsys.readouterr().err


def test_duplicate_id_memory_is_bounded():
    from sciml.materials.validation import DuplicateIds

    d = DuplicateIds(limit=2)
    for rid in ["a", "b", "c", "a", "c"]:
        d.add(rid)
    assert d.summary() == {"n_duplicate_ids": 1, "duplicate_ids": ["a"], "duplicate_check_complete": False}
    assert "first 2 distinct ids only" in d.describe()


def test_a_semicolon_separated_csv_is_named_so(tmp_path):
    from sciml.materials.readers import read_structure_csv

    src = tmp_path / "semi.csv"
    src.write_text("mp_id;poscar;K\nx;y;1\n")
    with pytest.raises(DataError, match="looks semicolon separated"):
        list(read_structure_csv(src, structure_column="poscar", target_column="K", id_column="mp_id"))
    src.write_text("poscar,K\ny,1\n")
    with pytest.raises(DataError, match="null .*row<N>"):
        list(read_structure_csv(src, structure_column="poscar", target_column="K", id_column="mp_id"))


def test_a_fold_outside_the_splits_names_the_fold_argument():
    from sciml.materials.folds import split_fold

    cfg = tiny_config(cv={"n_splits": 3, "folds": [0]})
    with pytest.raises(ConfigError) as exc:
        split_fold(None, cfg, 4)
    assert exc.value.key == "--fold" and "fold 4" in str(exc.value) and "0..2" in str(exc.value)
