"""Frozen pretrained SevenNet features + a new head: the weights are checked, bad structures are
quarantined naming the record, the features are deterministic, the head learns, and a saved
model screens new structures."""

from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("sevenn", reason="sevenn not installed (pip install -e '.[pretrained]')")

import torch  # noqa: E402

from tests.materials.conftest import JDFT2D, tiny_config  # noqa: E402


def sevennet_config(**sevennet):
    return tiny_config(
        dataset={"path": JDFT2D, "target_column": None, "limit": 160, "unit": "meV/atom",
                 "target_name": "exfoliation energy"},
        model={"name": "sevennet", "sevennet": {"freeze": "head", **sevennet}},
        train={"max_epochs": 60, "batch_size": 16, "lr": 0.005, "log_target": True},
    )


@pytest.fixture(scope="module")
def sevennet_fold(tmp_path_factory, shared_data):
    """Frozen SevenNet-0 features + a new MLP head, fold 0 of the first 160 jdft2d records."""
    import time

    from sciml.materials.steps import train

    base = tmp_path_factory.mktemp("sevennet")
    cfg = sevennet_config()
    t0 = time.perf_counter()
    metrics = train(cfg, 0, shared_data, base / "fold_0", base / "ckpt", base / "cache", threads=1)
    return cfg, base / "fold_0", metrics, base / "cache", time.perf_counter() - t0


@pytest.fixture(scope="module")
def model():
    from sciml.materials.models.sevennet import SevenNetRegressor

    torch.manual_seed(0)
    return SevenNetRegressor(checkpoint="7net-0").eval()


def test_installed_weights_have_the_pinned_sha256():
    from sciml.materials.models.chgnet import sha256_of
    from sciml.materials.models.sevennet import KNOWN_WEIGHTS, pretrained_weights_path

    for name, (_, digest) in KNOWN_WEIGHTS.items():
        assert sha256_of(pretrained_weights_path(name)) == digest, name


def test_sha256_mismatch_is_refused_naming_the_file(tmp_path):
    from sciml.errors import DataError
    from sciml.materials.models.sevennet import SevenNetRegressor, pretrained_weights_path

    from tests.materials.conftest import corrupted_copy

    bad = corrupted_copy(pretrained_weights_path("7net-0"), tmp_path / "checkpoint_sevennet_0.pth")
    with pytest.raises(DataError, match="sha256") as exc:
        SevenNetRegressor(weights_path=str(bad))
    assert str(bad) in str(exc.value)
    # the other checkpoint's (intact) file is a mismatch too: a different model
    with pytest.raises(DataError, match="sha256"):
        SevenNetRegressor(checkpoint="7net-0", weights_path=str(pretrained_weights_path("7net-l3i5")))
    with pytest.raises(DataError, match="missing"):
        SevenNetRegressor(weights_path=str(tmp_path / "nope.pth"))


def test_unknown_freeze_mode_is_a_config_error():
    from sciml.errors import ConfigError
    from sciml.materials.models.sevennet import SevenNetRegressor

    with pytest.raises(ConfigError, match="last_blocks"):
        SevenNetRegressor(freeze="all_but_head")


def _one_step(freeze: str, graphs):
    from sciml.materials.models.sevennet import SevenNetRegressor
    from sciml.materials.sevennet_data import collate_graphs

    torch.manual_seed(0)
    model = SevenNetRegressor(freeze=freeze, backbone_lr_scale=0.5).train()
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    groups = model.param_groups(0.01)
    opt = torch.optim.AdamW(groups, lr=0.01)
    batch = collate_graphs(graphs, torch.linspace(0.5, 1.5, len(graphs)))
    loss = (model(batch) - batch.y).abs().mean()
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    opt.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    return groups, grads, changed


@pytest.fixture(scope="module")
def few_graphs(jdft2d_records):
    from sciml.materials.sevennet_data import structure_graph

    return [structure_graph(r.structure) for r in jdft2d_records[:4]]


def test_freeze_head_trains_only_the_new_head(few_graphs):
    groups, grads, changed = _one_step("head", few_graphs)
    assert len(groups) == 1
    assert all(grads[n] is None for n in grads if n.startswith("backbone."))
    assert changed and all(k.startswith("head.") for k in changed)


def test_freeze_last_blocks_trains_the_last_block_and_readout_at_the_scaled_rate(few_graphs):
    groups, grads, changed = _one_step("last_blocks", few_graphs)
    assert [g["lr"] for g in groups] == [0.01, 0.005]
    assert grads["backbone.onehot_to_feature_x.linear.weight"] is None
    assert not any(k.startswith(("backbone.0_", "backbone.3_", "backbone.onehot")) for k in changed)
    assert any(k.startswith("backbone.4_convolution.") for k in changed)
    assert any(k.startswith("backbone.reduce_input_to_hidden.") for k in changed)
    assert any(k.startswith("head.") for k in changed)
    # SevenNet's fixed species shift/scale stay fixed
    assert not any(k.startswith("backbone.rescale_atomic_energy") for k in changed)


def test_freeze_none_trains_the_embedding_too(few_graphs):
    _, grads, changed = _one_step("none", few_graphs)
    assert grads["backbone.onehot_to_feature_x.linear.weight"] is not None
    assert "backbone.onehot_to_feature_x.linear.weight" in changed and any(k.startswith("backbone.0_") for k in changed)


def test_unknown_element_and_isolated_atoms_are_quarantined_naming_the_record(jdft2d_records):
    from pymatgen.core import Lattice, Structure

    from sciml.materials.readers import RawRecord
    from sciml.materials.sevennet_data import build_table

    good = jdft2d_records[:3]
    po = good[0].structure.copy()
    po.replace(0, "Po")  # Z = 84: not among SevenNet-0's 89 elements (which has H..Pu otherwise)
    lonely = Structure(Lattice.cubic(12.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])  # 10.4 A apart > 5 A
    records = [*good, RawRecord("rec-po", po, 50.0, None, 4), RawRecord("rec-lonely", lonely, 50.0, None, 5)]
    table = build_table(records, checkpoint="7net-0", max_z=100)
    assert table.ids == [r.id for r in good]
    reasons = {rid: reason for rid, _, reason in table.quarantine}
    assert reasons["rec-po"].startswith("element:") and "Po (Z=84)" in reasons["rec-po"]
    assert "rec-po" in reasons["rec-po"] and "7net-0" in reasons["rec-po"]
    assert reasons["rec-lonely"].startswith("isolated_atom:") and "5.0 A" in reasons["rec-lonely"]
    # both stay in all_ids with their targets, so a test fold scores them with the train mean
    assert table.all_ids[-2:] == ["rec-po", "rec-lonely"] and np.isfinite(table.all_y.numpy()).all()


def test_frozen_features_are_deterministic_and_of_the_right_shape(model, jdft2d_records):
    from sciml.materials.sevennet_data import collate_graphs, structure_graph

    graphs = [structure_graph(r.structure) for r in jdft2d_records[:6]]
    with torch.inference_mode():
        a = model.features(collate_graphs(graphs))
        b = model.features(collate_graphs(graphs))
        one = torch.cat([model.features(collate_graphs([g])) for g in graphs])
    assert a.shape == (6, 129) and model.feature_dim == 129 and torch.isfinite(a).all()
    assert torch.equal(a, b)
    torch.testing.assert_close(a, one, rtol=1e-5, atol=1e-5)  # batching does not change a structure's features
    # last column: SevenNet-0's energy per atom, eV/atom (MPtrj-scale values for these 2D crystals)
    assert ((a[:, -1] > -12) & (a[:, -1] < -1)).all(), a[:, -1]


def test_features_are_invariant_to_atom_order(model, jdft2d_records):
    from pymatgen.core import Structure

    from sciml.materials.sevennet_data import collate_graphs, structure_graph

    structs = [r.structure for r in jdft2d_records[:3]]
    reordered = [Structure.from_sites(list(reversed(s.sites))) for s in structs]
    with torch.inference_mode():
        a = model.features(collate_graphs([structure_graph(s) for s in structs]))
        b = model.features(collate_graphs([structure_graph(s) for s in reordered]))
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_frozen_features_head_beats_the_train_mean_and_the_median(sevennet_fold, shared_data):
    from sciml.materials.folds import split_fold
    from sciml.materials.sevennet_data import load_or_build

    cfg, fold_dir, metrics, cache, seconds = sevennet_fold
    assert metrics["model"] == "sevennet" and metrics["n_test"] == 32 and metrics["n_test_fallback"] == 0
    # 32 held-out exfoliation energies (meV/atom), skewed: predicting the train mean scores ~76,
    # the train median ~42. A broken backbone leaves the L1-trained head near the median
    # (measured: features shuffled across records 42.1, one constant feature vector 42.5);
    # SevenNet-0's features scored 35.4 here.
    table, _, hit = load_or_build(cfg["dataset"], shared_data, cache, cfg["validation"])
    assert hit, "the train step should have cached the SevenNet graphs"
    split = split_fold(table, cfg, 0)
    y = table.y.numpy().astype(np.float64)
    median_mae = float(np.abs(y[split["test"]] - np.median(y[split["fit"]])).mean())
    assert metrics["test"]["mae"] < 0.6 * metrics["baseline_train_mean"]["mae"], metrics["test"]
    assert metrics["test"]["mae"] < 0.9 * median_mae, (metrics["test"], median_mae)
    assert metrics["epochs_trained"] == 60 and seconds < 120
    assert list(cache.glob("sevennet-features-*.pt")), "the frozen features should be cached"
    for name in ("model.pt", "model.json", "predictions.csv", "metrics.json"):
        assert (fold_dir / name).is_file()
    import json

    prov = (fold_dir / "provenance.json").read_text()
    assert "checkpoint_sevennet_0.pth" in prov and "7052cb42b7b3be42" in prov and json.loads(prov)


def test_saved_model_predicts_from_graphs_like_the_feature_path(sevennet_fold, shared_data):
    """Training ran on precomputed features; the saved model runs the backbone on graphs: same numbers."""
    from itertools import islice

    from sciml.materials import saved_model
    from sciml.materials.readers import read_matbench_json
    from sciml.materials.screening import predict_records

    _, fold_dir, _, _, _ = sevennet_fold
    state = torch.load(fold_dir / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    with open(fold_dir / "predictions.csv", newline="") as fh:
        expected = {r["id"]: float(r["prediction"]) for r in csv.DictReader(fh)}
    model, spec = saved_model.load(fold_dir)
    assert spec["model_name"] == "sevennet" and spec["model_kwargs"]["checkpoint"] == "7net-0"
    records = [r for r in islice(read_matbench_json(shared_data / JDFT2D), 160) if r.id in expected]
    rows = [row for batch, _ in predict_records(model, spec, records, batch_size=7) for row in batch]
    assert len(rows) == len(expected) == 32
    for row in rows:
        assert row[3] == pytest.approx(expected[row[0]], rel=2e-5, abs=1e-4), row


def test_predict_step_screens_and_skips_what_sevennet_cannot_embed(sevennet_fold, jdft2d_records, tmp_path):
    import ase.io
    from ase import Atoms
    from pymatgen.io.ase import AseAtomsAdaptor

    from sciml.materials.steps.predict import predict

    cfg, fold_dir, _, _, _ = sevennet_fold
    frames = []
    for r in jdft2d_records[:5]:
        atoms = AseAtomsAdaptor.get_atoms(r.structure)
        atoms.info = {"id": r.id}
        frames.append(atoms)
    po = AseAtomsAdaptor.get_atoms(jdft2d_records[0].structure)
    po.numbers[0] = 84
    po.info = {"id": "with-po"}
    lonely = Atoms("Na", positions=[[0, 0, 0]], cell=[12, 12, 12], pbc=True, info={"id": "lonely"})
    xyz = tmp_path / "screen.extxyz"
    ase.io.write(xyz, [*frames, po, lonely], format="extxyz")
    stats = predict(cfg, fold_dir, xyz, tmp_path / "out", progress=False, device="cpu")
    assert stats["n_predicted"] == 5 and stats["n_skipped"] == 2
    with open(tmp_path / "out" / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == [r.id for r in jdft2d_records[:5]]
    assert all(np.isfinite(float(r["prediction"])) and float(r["prediction"]) > 0 for r in rows)
    skipped = (tmp_path / "out" / "skipped.csv").read_text()
    assert "with-po" in skipped and "Po (Z=84)" in skipped and "lonely" in skipped


def test_fine_tuned_fold_trains_saves_and_screens_the_same(tmp_path, shared_data):
    """freeze: last_blocks runs the backbone on graphs every step (no cached features); the saved
    model (backbone included) predicts what the fold wrote."""
    from itertools import islice

    from sciml.materials import saved_model
    from sciml.materials.readers import read_matbench_json
    from sciml.materials.screening import predict_records
    from sciml.materials.steps import train

    cfg = sevennet_config(freeze="last_blocks", trainable_blocks=1)
    cfg["dataset"]["limit"] = 40
    cfg["train"]["max_epochs"] = 2
    metrics = train(cfg, 0, shared_data, tmp_path / "fold_0", tmp_path / "ckpt", tmp_path / "cache", threads=1)
    assert metrics["n_test"] == 8 and np.isfinite(metrics["test"]["mae"]) and metrics["epochs_trained"] == 2
    assert not list((tmp_path / "cache").glob("sevennet-features-*.pt"))
    with open(tmp_path / "fold_0" / "predictions.csv", newline="") as fh:
        expected = {r["id"]: float(r["prediction"]) for r in csv.DictReader(fh)}
    model, spec = saved_model.load(tmp_path / "fold_0")
    assert spec["model_kwargs"]["freeze"] == "last_blocks"
    records = [r for r in islice(read_matbench_json(shared_data / JDFT2D), 40) if r.id in expected]
    rows = [row for batch, _ in predict_records(model, spec, records, batch_size=3) for row in batch]
    assert len(rows) == 8
    for row in rows:
        assert row[3] == pytest.approx(expected[row[0]], rel=2e-5, abs=1e-4), row


def test_prepare_step_builds_and_summarises_sevennet_graphs(tmp_path, shared_data):
    from sciml.materials.steps import prepare

    cfg = sevennet_config()
    cfg["dataset"]["limit"] = 20
    summary = prepare(cfg, shared_data, tmp_path / "prep", tmp_path / "cache", threads=1)
    assert summary["n_kept"] == 20 and summary["graph"]["cutoff"] == 5.0 and summary["n_edges"] > 0
    assert list((tmp_path / "cache").glob("sevennet-graphs-*.pt"))
