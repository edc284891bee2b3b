"""Screening: streaming batches, CSV and Parquet output, bad structures skipped and reported."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from sciml.errors import DataError
from sciml.materials.saved_model import load as load_model
from sciml.materials.steps import predict


def screening_csv(path, jdft2d_records, n=7):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "structure"])
        for r in jdft2d_records[:n]:
            w.writerow([r.id, r.structure.to(fmt="cif")])
        w.writerow(["garbage", "this is not a crystal"])
        w.writerow(["heavy", "{'@module': 'x'}"])


def test_model_is_plain_state_dict(trained_fold):
    _, fold_dir, _ = trained_fold
    state = torch.load(fold_dir / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    model, spec = load_model(fold_dir)
    assert spec["model_name"] == "cgcnn"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_predict_streams_and_skips_bad(tmp_path, trained_fold, jdft2d_records, fmt):
    import pandas as pd

    cfg, fold_dir, _ = trained_fold
    src = tmp_path / "in.csv"
    screening_csv(src, jdft2d_records)
    out = tmp_path / "screen"
    stats = predict(cfg, fold_dir, src, out, fmt=fmt, batch_size=3, id_column="name", progress=False)
    assert stats["n_predicted"] == 7 and stats["n_skipped"] == 2 and stats["batch_size"] == 3
    pred_file = out / f"predictions.{fmt}"
    assert stats["predictions_file"] == str(pred_file)
    df = pd.read_csv(pred_file) if fmt == "csv" else pd.read_parquet(pred_file)
    assert list(df["id"]) == [r.id for r in jdft2d_records[:7]]
    assert df["prediction"].notna().all()
    skipped = (out / "skipped.csv").read_text().splitlines()
    assert skipped[0] == "id,line,reason" and skipped[1].startswith("garbage,") and "unparsable" in skipped[1]
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["step"] == "materials.predict" and str(fold_dir / "model.pt") in prov["inputs_sha256"]
    assert str(pred_file) in prov["outputs"] and prov["device"]["torch_threads"] == cfg["threads"]
    # batch size must not change the numbers
    out2 = tmp_path / "screen_b1"
    predict(cfg, fold_dir, src, out2, fmt=fmt, batch_size=1, id_column="name", progress=False)
    df2 = pd.read_csv(out2 / f"predictions.{fmt}") if fmt == "csv" else pd.read_parquet(out2 / f"predictions.{fmt}")
    assert (abs(df2["prediction"] - df["prediction"]) <= 1e-3 * (1 + abs(df["prediction"]))).all()


def test_predict_matches_training_predictions(trained_fold, tmp_path, repo_root):
    """Screening the test fold gives the predictions written by training (same model, same graphs)."""
    import pandas as pd

    cfg, fold_dir, _ = trained_fold
    out = tmp_path / "screen"
    stats = predict(cfg, fold_dir, repo_root / "data/materials/flla_2015_subset1000.csv.gz", out, id_column="id",
                    progress=False)
    assert stats["batch_size"] == cfg["predict"]["batch_size"]
    pred = pd.read_csv(out / "predictions.csv").set_index("id")["prediction"]
    train_pred = pd.read_csv(fold_dir / "predictions.csv").set_index("id")["prediction"]
    diff = (pred.loc[train_pred.index] - train_pred).abs()
    assert (diff <= 1e-4 + 1e-4 * train_pred.abs()).all()


def test_predict_takes_structures_in_memory(trained_fold, tmp_path, jdft2d_records):
    """A notebook's structures ({id: Structure} or a list) are screened like a file of them; an entry that is
    no Structure is skipped with its type named."""
    import pandas as pd

    cfg, fold_dir, _ = trained_fold
    src = tmp_path / "in.csv"
    screening_csv(src, jdft2d_records, n=5)
    predict(cfg, fold_dir, src, tmp_path / "from_file", id_column="name", progress=False)
    from_file = pd.read_csv(tmp_path / "from_file" / "predictions.csv").set_index("id")["prediction"]
    given = {r.id: r.structure for r in jdft2d_records[:5]} | {"oops": "Si 0 0 0"}
    stats = predict(cfg, fold_dir, given, tmp_path / "from_dict", progress=False)
    assert stats["n_predicted"] == 5 and stats["n_skipped"] == 1
    in_memory = pd.read_csv(tmp_path / "from_dict" / "predictions.csv").set_index("id")["prediction"]
    assert (abs(in_memory.loc[from_file.index] - from_file) <= 1e-4 * (1 + abs(from_file))).all()
    skipped = pd.read_csv(tmp_path / "from_dict" / "skipped.csv")
    assert list(skipped["id"]) == ["oops"] and "not a pymatgen Structure (str)" in skipped["reason"][0]
    stats = predict(cfg, fold_dir, [r.structure for r in jdft2d_records[:3]], tmp_path / "from_list", progress=False)
    assert stats["n_predicted"] == 3
    assert list(pd.read_csv(tmp_path / "from_list" / "predictions.csv")["id"]) == ["item0", "item1", "item2"]


def test_structures_with_elements_no_training_record_had_are_flagged(trained_fold, tmp_path, jdft2d_records,
                                                                     capsys):
    """A model trained from scratch has untrained embedding rows for elements its training folds never had:
    predict names them per structure (column unseen_elements), counts and warns, whatever the spread says."""
    import pandas as pd
    from pymatgen.core import Element, Lattice, Structure

    cfg, fold_dir, _ = trained_fold
    spec = json.loads((fold_dir / "model.json").read_text())
    seen = set(spec["training_atomic_numbers"])
    known = next(r.structure for r in jdft2d_records if {s.Z for s in r.structure.species} <= seen)
    a, b = sorted((e for e in ("He", "Ne", "Kr", "Xe", "Tc", "Pm", "Ac", "Pa", "Np", "Pu") if Element(e).Z not in seen),
                  key=lambda e: Element(e).Z)[:2]
    given = {"known": known,
             "one": Structure(Lattice.cubic(3.5), [b, b], [[0, 0, 0], [0.5, 0.5, 0.5]]),
             "mixed": Structure(Lattice.cubic(4.0), [b, a, known[0].specie], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]])}
    stats = predict(cfg, fold_dir, given, tmp_path / "out", progress=False)
    got = pd.read_csv(tmp_path / "out" / "predictions.csv", keep_default_na=False).set_index("id")["unseen_elements"]
    assert got.to_dict() == {"known": "", "one": b, "mixed": f"{a} {b}"}
    assert stats["n_unseen_elements"] == 2
    assert "2 of 3 predicted structure(s) contain elements that no training record had" in capsys.readouterr().err


def test_a_csv_with_an_id_column_keeps_its_ids_without_the_option(trained_fold, tmp_path, jdft2d_records):
    """A shard file (or a user's CSV) with an ``id`` column: its ids, not row<N>, unless another column is named."""
    import pandas as pd

    cfg, fold_dir, _ = trained_fold
    src = tmp_path / "ids.csv"
    pd.DataFrame({"id": [r.id for r in jdft2d_records[:3]], "name": ["a", "b", "c"],
                  "structure": [r.structure.to(fmt="cif") for r in jdft2d_records[:3]]}).to_csv(src, index=False)
    predict(cfg, fold_dir, src, tmp_path / "default", progress=False)
    assert list(pd.read_csv(tmp_path / "default" / "predictions.csv")["id"]) == [r.id for r in jdft2d_records[:3]]
    predict(cfg, fold_dir, src, tmp_path / "named", id_column="name", progress=False)
    assert list(pd.read_csv(tmp_path / "named" / "predictions.csv")["id"]) == ["a", "b", "c"]


def test_predict_clips_to_the_saved_target_range(trained_fold, tmp_path, repo_root):
    """A model.json with target_range (train.clip_predictions) clips every screened prediction to it; the others
    are the unclipped model's."""
    import shutil

    import numpy as np
    import pandas as pd

    cfg, fold_dir, _ = trained_fold
    src = repo_root / "data/materials/flla_2015_subset1000.csv.gz"
    predict(cfg, fold_dir, src, tmp_path / "free", id_column="id", progress=False)
    free = pd.read_csv(tmp_path / "free" / "predictions.csv").set_index("id")["prediction"]
    low, high = (float(v) for v in np.quantile(free, [0.25, 0.75]))
    clipped_dir = tmp_path / "clipped_model"
    shutil.copytree(fold_dir, clipped_dir)
    spec = json.loads((clipped_dir / "model.json").read_text())
    (clipped_dir / "model.json").write_text(json.dumps({**spec, "target_range": [low, high]}))
    predict(cfg, clipped_dir, src, tmp_path / "clipped", id_column="id", progress=False)
    clipped = pd.read_csv(tmp_path / "clipped" / "predictions.csv").set_index("id")["prediction"].loc[free.index]
    assert np.allclose(clipped, free.clip(low, high), rtol=1e-5, atol=1e-5)
    assert np.isclose(clipped, low).sum() > 0 and np.isclose(clipped, high).sum() > 0


@pytest.mark.parametrize("bad, log_target", [([1.0], False), ([2.0, 1.0], False), ([0.0, float("inf")], False),
                                             ("1,2", False), ([True, 2.0], False), ([0.0, 2.0], True)])
def test_a_malformed_target_range_is_a_data_error_naming_model_json(trained_fold, tmp_path, bad, log_target):
    import shutil

    _, fold_dir, _ = trained_fold
    broken = tmp_path / "broken"
    shutil.copytree(fold_dir, broken)
    spec = json.loads((broken / "model.json").read_text())
    (broken / "model.json").write_text(json.dumps({**spec, "target_range": bad, "log_target": log_target}))
    with pytest.raises(DataError, match="target_range must be") as info:
        load_model(broken)
    assert "model.json" in str(info.value)


def test_missing_model_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="model file missing"):
        load_model(tmp_path)


def test_unknown_model_format_is_a_data_error(trained_fold, tmp_path):
    import shutil

    _, fold_dir, _ = trained_fold
    old = tmp_path / "old"
    shutil.copytree(fold_dir, old)
    spec = json.loads((old / "model.json").read_text())
    (old / "model.json").write_text(json.dumps({**spec, "format": "sciml.materials.model/0"}))
    with pytest.raises(DataError, match="unknown model format 'sciml.materials.model/0'"):
        load_model(old)


def test_saved_model_round_trip(trained_fold, tmp_path):
    """save() writes what load() reads: same weights, same spec (the one owner of the format)."""
    from sciml.materials import saved_model
    from sciml.materials.lightning import CrystalRegressor

    cfg, fold_dir, _ = trained_fold
    model, spec = load_model(fold_dir)
    module = CrystalRegressor(spec["model_name"], spec["model_kwargs"], spec["target_mean"], spec["target_std"],
                              log_target=spec["log_target"])
    module.model.load_state_dict(model.state_dict())
    meta = {"graph": spec["graph"], "max_z": spec["max_z"], "min_distance": spec["min_distance"]}
    assert saved_model.save(module, cfg, meta, tmp_path, spec["training_atomic_numbers"]) == ["model.pt"]
    assert json.loads((tmp_path / "model.json").read_text()) == spec
    again, _ = load_model(tmp_path)
    for (k, a), (k2, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert k == k2 and torch.equal(a, b)


def test_predict_reads_extended_xyz_like_the_same_structures_in_csv(tmp_path, trained_fold, jdft2d_records):
    """An extended XYZ file (ids and a target in each frame's info, read with ase.io.iread) scores
    exactly like the same structures given as CIF in a CSV; a frame without a cell is skipped with
    its reason, and the fast array path gives the same structures as pymatgen's adaptor."""
    import ase.io
    import numpy as np
    import pandas as pd
    from ase import Atoms
    from pymatgen.io.ase import AseAtomsAdaptor

    from sciml.materials.readers import read_records

    cfg, fold_dir, _ = trained_fold
    frames = []
    for r in jdft2d_records[:6]:
        atoms = AseAtomsAdaptor.get_atoms(r.structure)
        atoms.info = {"id": r.id, "exfoliation_en": r.target}
        frames.append(atoms)
    frames.append(Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]], info={"id": "molecule"}))
    xyz = tmp_path / "screen.extxyz"
    ase.io.write(xyz, frames, format="extxyz")

    recs = list(read_records(xyz, target_column="exfoliation_en"))
    assert [r.id for r in recs] == [r.id for r in jdft2d_records[:6]] + ["molecule"]
    assert recs[-1].structure is None and "no 3D cell" in recs[-1].error
    for got, want in zip(recs, jdft2d_records[:6]):
        assert got.target == pytest.approx(want.target)
        assert np.allclose(got.structure.lattice.matrix, want.structure.lattice.matrix)
    fast = list(read_records(xyz, with_targets=False, arrays=True))
    for got, want in zip(fast, jdft2d_records[:6]):
        assert list(got.structure.z) == [s.specie.Z for s in want.structure]
        assert np.allclose(got.structure.frac_coords % 1.0, want.structure.frac_coords % 1.0, atol=1e-6)

    stats = predict(cfg, fold_dir, xyz, tmp_path / "from_xyz", progress=False, device="cpu")
    assert stats["n_predicted"] == 6 and stats["n_skipped"] == 1 and stats["device"] == "cpu"
    src = tmp_path / "in.csv"
    screening_csv(src, jdft2d_records, n=6)
    predict(cfg, fold_dir, src, tmp_path / "from_csv", id_column="name", progress=False)
    a = pd.read_csv(tmp_path / "from_xyz" / "predictions.csv").set_index("id")["prediction"]
    b = pd.read_csv(tmp_path / "from_csv" / "predictions.csv").set_index("id")["prediction"]
    assert list(a.index) == list(b.index)
    assert ((a - b).abs() <= 1e-4 * (1 + b.abs())).all()
    assert "molecule" in (tmp_path / "from_xyz" / "skipped.csv").read_text()


def test_device_auto_is_cpu_here_and_a_missing_gpu_is_a_clear_error(trained_fold, tmp_path):
    import torch

    from sciml.errors import ConfigError
    from sciml.devices import resolve_device

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert resolve_device("auto") == "cpu" and resolve_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="no CUDA device"):
        resolve_device("cuda")


def test_help_and_hints_fit_the_entry_point(tmp_path, capsys):
    """predict's --id-column help said only 'CSV column'; shard --help did not list extxyz; a missing
    CSV column told predict users to set a config key only."""
    from sciml.cli import build_parser
    from sciml.errors import DataError
    from sciml.materials.readers import read_structure_csv

    parser = build_parser()
    for step in ("predict", "shard"):
        with pytest.raises(SystemExit):
            parser.parse_args(["materials", step, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "info key (default: id" in text and "file names" in text
    with pytest.raises(SystemExit):
        parser.parse_args(["materials", "--help"])
    assert "extxyz" in " ".join(capsys.readouterr().out.split()).split("shard", 1)[1]
    p = tmp_path / "s.csv"
    p.write_text("id,crystal\na,x\n")
    with pytest.raises(DataError) as info:
        list(read_structure_csv(p, "structure", None, "id"))
    assert "--structure-column" in str(info.value) and "materials.dataset.structure_column" in str(info.value)


def test_predict_says_what_was_predicted_and_in_which_unit(tmp_path, trained_fold, jdft2d_records, capsys):
    """predictions.csv says only 'prediction': the stats, provenance.json and the CLI line name the model's
    target, unit and transform (from model.json), the column keeps its name; a log10 model labels both columns."""
    import shutil

    from sciml.cli import main
    from sciml.materials.steps.predict import prediction_labels

    cfg, fold_dir, _ = trained_fold
    src = tmp_path / "in.csv"
    screening_csv(src, jdft2d_records, n=3)
    stats = predict(cfg, fold_dir, src, tmp_path / "out", id_column="name", progress=False)
    want = {"target_name": "formation energy per atom", "unit": "eV/atom", "transform": "none",
            "prediction_label": "formation energy per atom (eV/atom)", "error_unit": "eV/atom"}
    assert {k: stats[k] for k in want} == want and "prediction_linear_label" not in stats
    extra = json.loads((tmp_path / "out" / "provenance.json").read_text())["extra"]
    assert {k: extra[k] for k in want} == want
    assert (tmp_path / "out" / "predictions.csv").read_text().splitlines()[0] == "id,formula,n_atoms,prediction,unseen_elements"

    log_dir = tmp_path / "log_model"
    shutil.copytree(fold_dir, log_dir)
    spec = json.loads((log_dir / "model.json").read_text())
    spec.update(target_name="exfoliation energy", unit="meV/atom", transform="log10")
    (log_dir / "model.json").write_text(json.dumps(spec))
    assert main(["materials", "predict", "--model-dir", str(log_dir), "--input", str(src), "--id-column", "name",
                 "--out-dir", str(tmp_path / "log_out"), "--no-progress", "--threads", "1"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "log10(exfoliation energy / meV/atom)" in line
    extra = json.loads((tmp_path / "log_out" / "provenance.json").read_text())["extra"]
    assert extra["transform"] == "log10" and extra["error_unit"] == "log10 units (dex)"
    assert extra["prediction_linear_label"] == "exfoliation energy (meV/atom)"
    # an older model.json without the labels: the column name and "unit not given", never a made-up unit
    old = prediction_labels({"transform": "none"})
    assert old["unit"] == "unit not given" and old["prediction_label"] == "target (unit not given)"


def test_a_failing_screen_leaves_earlier_outputs_and_no_temporary_files(tmp_path, trained_fold, jdft2d_records,
                                                                        monkeypatch):
    """skipped.csv and parser_warnings.csv are spooled to disk while the screen runs: a run that dies
    midway removes its spools, and the previous run's files stay as they were."""
    from sciml.materials import screening

    cfg, fold_dir, _ = trained_fold
    src = tmp_path / "in.csv"
    screening_csv(src, jdft2d_records)
    out = tmp_path / "screen"
    predict(cfg, fold_dir, src, out, batch_size=3, id_column="name", progress=False)
    before = {name: (out / name).read_bytes() for name in ("skipped.csv", "parser_warnings.csv", "predictions.csv")}
    real = screening.predict_records

    def dies_after_one_batch(*args, **kwargs):
        for k, batch in enumerate(real(*args, **kwargs)):
            if k == 1:
                raise KeyboardInterrupt
            yield batch

    monkeypatch.setattr(screening, "predict_records", dies_after_one_batch)
    with pytest.raises(KeyboardInterrupt):
        predict(cfg, fold_dir, src, out, batch_size=3, id_column="name", progress=False)
    assert {name: (out / name).read_bytes() for name in before} == before
    assert sorted(p.name for p in out.iterdir() if ".tmp" in p.name) == []


def test_one_structure_is_one_record_and_a_rerun_in_another_format_leaves_no_old_table(trained_fold, tmp_path,
                                                                                      jdft2d_records):
    """predict(cfg, model, structure, ...) iterated the structure's sites (8 skipped, nothing predicted, no error);
    a parquet rerun into a CSV run's folder left the old predictions.csv beside the new table."""
    cfg, fold_dir, _ = trained_fold
    out = tmp_path / "one"
    stats = predict(cfg, fold_dir, jdft2d_records[0].structure, out, progress=False)
    assert stats["n_predicted"] == 1 and stats["n_skipped"] == 0
    assert (out / "predictions.csv").is_file()
    predict(cfg, fold_dir, [r.structure for r in jdft2d_records[:2]], out, fmt="parquet", progress=False)
    assert (out / "predictions.parquet").is_file() and not (out / "predictions.csv").exists()
