"""Fine-tuning the pretrained CHGNet: it learns, freezing freezes, saved models predict the same,
bad structures and bad weight files are reported, never a crash."""

from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("chgnet", reason="chgnet not installed (pip install -e '.[pretrained]')")

import torch  # noqa: E402

from tests.materials.conftest import JDFT2D, tiny_config  # noqa: E402

CHGNET_CFG = {"freeze": "last_blocks"}


def chgnet_config(**chgnet):
    return tiny_config(
        dataset={"path": JDFT2D, "target_column": None, "limit": 80, "unit": "meV/atom",
                 "target_name": "exfoliation energy"},
        model={"name": "chgnet", "chgnet": {**CHGNET_CFG, **chgnet}},
        train={"max_epochs": 8, "batch_size": 16, "lr": 0.005, "log_target": True},
    )


@pytest.fixture(scope="module")
def chgnet_fold(tmp_path_factory, shared_data):
    """CHGNet fine-tuned (last block + head) on fold 0 of the first 80 jdft2d records."""
    from sciml.materials.steps import train

    base = tmp_path_factory.mktemp("chgnet")
    cfg = chgnet_config()
    metrics = train(cfg, 0, shared_data, base / "fold_0", base / "ckpt", base / "cache", threads=1)
    return cfg, base / "fold_0", metrics, base / "cache"


def test_fine_tune_beats_the_train_mean_on_held_out_records(chgnet_fold):
    _, fold_dir, metrics, _ = chgnet_fold
    assert metrics["model"] == "chgnet" and metrics["n_test"] == 16 and metrics["n_test_fallback"] == 0
    # 16 held-out exfoliation energies (meV/atom); predict-the-train-mean scores ~41
    assert metrics["test"]["mae"] < 0.85 * metrics["baseline_train_mean"]["mae"], metrics["test"]
    for name in ("model.pt", "model.json", "predictions.csv", "metrics.json"):
        assert (fold_dir / name).is_file()
    # the pretrained weights the fold started from: their file and sha256 in provenance, as for SevenNet
    import json

    from sciml.materials.models.chgnet import KNOWN_WEIGHTS

    prov = json.loads((fold_dir / "provenance.json").read_text())
    assert prov["extra"]["pretrained"]["package"] == "chgnet" and prov["extra"]["pretrained"]["checkpoint"] == "0.3.0"
    assert KNOWN_WEIGHTS["0.3.0"][1] in prov["inputs_sha256"].values()


def test_save_load_predict_round_trip_equals_in_memory_predictions(chgnet_fold, shared_data):
    from sciml.materials import saved_model
    from sciml.materials.readers import read_matbench_json
    from sciml.materials.screening import predict_records

    _, fold_dir, _, _ = chgnet_fold
    state = torch.load(fold_dir / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    with open(fold_dir / "predictions.csv", newline="") as fh:
        expected = {r["id"]: float(r["prediction"]) for r in csv.DictReader(fh)}
    model, spec = saved_model.load(fold_dir)
    assert spec["model_name"] == "chgnet" and spec["format"] == saved_model.FORMAT
    from itertools import islice

    records = [r for r in islice(read_matbench_json(shared_data / JDFT2D), 80) if r.id in expected]
    rows = [row for batch, rejected in predict_records(model, spec, records, batch_size=5) for row in batch]
    assert len(rows) == len(expected) == 16
    for row in rows:
        assert row[3] == pytest.approx(expected[row[0]], rel=2e-5, abs=1e-4), row


def _one_step(freeze: str, table):
    from sciml.materials.chgnet_data import chgnet_loader
    from sciml.materials.models.chgnet import CHGNetRegressor

    torch.manual_seed(0)
    model = CHGNetRegressor(freeze=freeze, backbone_lr_scale=0.5)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    groups = model.param_groups(0.01)
    opt = torch.optim.AdamW(groups, lr=0.01)
    batch = next(iter(chgnet_loader(table, range(8), 8)))
    loss = (model(batch) - torch.log(batch.y)).abs().mean()
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    opt.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    return model, groups, grads, changed


@pytest.fixture(scope="module")
def small_table(chgnet_fold, shared_data):
    from sciml.materials.chgnet_data import load_or_build

    cfg, _, _, cache = chgnet_fold
    table, _, hit = load_or_build(cfg["dataset"], shared_data, cache, cfg["validation"])
    assert hit, "the train step should have cached the CHGNet graphs"
    return table


def test_freeze_head_trains_only_the_new_head(small_table):
    model, groups, grads, changed = _one_step("head", small_table)
    assert len(groups) == 1
    assert all(grads[n] is None for n in grads if n.startswith("backbone."))
    assert changed and all(k.startswith("head.") for k in changed)


def test_freeze_last_blocks_trains_the_last_layers_at_the_scaled_rate(small_table):
    model, groups, grads, changed = _one_step("last_blocks", small_table)
    assert [g["lr"] for g in groups] == [0.01, 0.005]
    assert grads["backbone.atom_embedding.embedding.weight"] is None
    assert all(grads[n] is None for n in grads if n.startswith("backbone.atom_conv_layers.0."))
    assert not any(k.startswith(("backbone.atom_conv_layers.0.", "backbone.atom_embedding")) for k in changed)
    assert any(k.startswith("backbone.atom_conv_layers.3.") for k in changed)
    assert any(k.startswith("backbone.mlp.") for k in changed) and any(k.startswith("head.") for k in changed)


def test_freeze_none_trains_the_embedding_too(small_table):
    _, _, grads, changed = _one_step("none", small_table)
    assert grads["backbone.atom_embedding.embedding.weight"] is not None
    assert "backbone.atom_embedding.embedding.weight" in changed


def test_unknown_element_and_isolated_atoms_are_quarantined(jdft2d_records):
    from pymatgen.core import Lattice, Structure

    from sciml.materials.chgnet_data import build_table
    from sciml.materials.readers import RawRecord

    good = jdft2d_records[:3]
    am = good[0].structure.copy()
    am.replace(0, "Am")  # Z = 95: outside CHGNet's 1..94 embedding
    lonely = Structure(Lattice.cubic(12.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])  # 10.4 A apart > 6 A
    records = [*good, RawRecord("am", am, 50.0, None, 4), RawRecord("lonely", lonely, 50.0, None, 5)]
    table = build_table(records, max_z=100)
    assert table.ids == [r.id for r in good]
    reasons = {rid: reason for rid, _, reason in table.quarantine}
    assert reasons["am"].startswith("element:") and "94" in reasons["am"]
    assert reasons["lonely"].startswith("isolated_atom:")
    assert table.all_ids[-2:] == ["am", "lonely"] and np.isfinite(table.all_y.numpy()).all()


def test_screening_skips_structures_chgnet_cannot_embed(chgnet_fold, jdft2d_records):
    from pymatgen.core import Lattice, Structure

    from sciml.materials import saved_model
    from sciml.materials.readers import RawRecord
    from sciml.materials.screening import predict_records

    _, fold_dir, _, _ = chgnet_fold
    model, spec = saved_model.load(fold_dir)
    am = jdft2d_records[0].structure.copy()
    am.replace(0, "Am")
    lonely = Structure(Lattice.cubic(12.0), ["Na"], [[0, 0, 0]])
    recs = [jdft2d_records[1], RawRecord("am", am, None, None, 2), RawRecord("lonely", lonely, None, None, 3)]
    (rows, rejected), = list(predict_records(model, spec, recs, batch_size=8))
    assert [r[0] for r in rows] == [jdft2d_records[1].id] and np.isfinite(rows[0][3])
    assert {rec.id: reason.split(":")[0] for rec, reason in rejected} == {"am": "element", "lonely": "isolated_atom"}


def test_installed_weights_have_the_pinned_sha256():
    from sciml.materials.models.chgnet import KNOWN_WEIGHTS, pretrained_weights_path, sha256_of

    assert sha256_of(pretrained_weights_path("0.3.0")) == KNOWN_WEIGHTS["0.3.0"][1]


def test_corrupted_weight_file_is_a_clear_error(tmp_path):
    from sciml.errors import DataError
    from sciml.materials.models.chgnet import CHGNetRegressor, pretrained_weights_path

    from tests.materials.conftest import corrupted_copy

    bad = corrupted_copy(pretrained_weights_path("0.3.0"), tmp_path / "chgnet_0.3.0.pth.tar")
    with pytest.raises(DataError, match="sha256") as exc:
        CHGNetRegressor(weights_path=str(bad))
    assert str(bad) in str(exc.value)
    with pytest.raises(DataError, match="missing"):
        CHGNetRegressor(weights_path=str(tmp_path / "nope.pth.tar"))


@pytest.fixture(scope="module")
def frozen_fold(tmp_path_factory, shared_data, chgnet_fold):
    """Frozen CHGNet features (computed once) + a new MLP head, fold 0 of the first 80 jdft2d records."""
    import time

    from sciml.materials.steps import train

    base = tmp_path_factory.mktemp("chgnet_frozen")
    cfg = chgnet_config(freeze="head")
    cfg["train"]["max_epochs"] = 60
    t0 = time.perf_counter()
    metrics = train(cfg, 0, shared_data, base / "fold_0", base / "ckpt", chgnet_fold[3], threads=1)
    return cfg, base / "fold_0", metrics, time.perf_counter() - t0


@pytest.fixture(scope="module")
def frozen_stacking_fold(tmp_path_factory, shared_data, chgnet_fold):
    """As ``frozen_fold`` with the restacking descriptors in the head's input (``stacking: true``)."""
    from sciml.materials.steps import train

    base = tmp_path_factory.mktemp("chgnet_stacking")
    cfg = chgnet_config(freeze="head", stacking=True)
    cfg["train"]["max_epochs"] = 60
    metrics = train(cfg, 0, shared_data, base / "fold_0", base / "ckpt", chgnet_fold[3], threads=1)
    return cfg, base / "fold_0", metrics, None


@pytest.fixture(scope="module")
def frozen_dispersion_fold(tmp_path_factory, shared_data, chgnet_fold):
    """As ``frozen_stacking_fold`` with the D3 dispersion pair of descriptors as well (``dispersion: true``)."""
    pytest.importorskip("torch_dftd", reason="torch-dftd not installed (pip install -e '.[pretrained]')")
    from sciml.materials.steps import train

    base = tmp_path_factory.mktemp("chgnet_dispersion")
    cfg = chgnet_config(freeze="head", stacking=True, dispersion=True)
    cfg["train"]["max_epochs"] = 60
    metrics = train(cfg, 0, shared_data, base / "fold_0", base / "ckpt", chgnet_fold[3], threads=1)
    return cfg, base / "fold_0", metrics, None


def test_dispersion_head_beats_the_train_mean_and_records_its_inputs(frozen_dispersion_fold):
    from sciml.materials import saved_model

    _, fold_dir, metrics, _ = frozen_dispersion_fold
    assert metrics["test"]["mae"] < 0.85 * metrics["baseline_train_mean"]["mae"], metrics["test"]
    model, spec = saved_model.load(fold_dir)
    assert spec["model_kwargs"]["dispersion"] and model.dispersion and model.head[0].in_features == 70


def test_dispersion_needs_the_restacking_descriptors():
    from sciml.errors import ConfigError
    from sciml.materials.models import build_model

    with pytest.raises(ConfigError, match="stacking"):
        build_model("chgnet", freeze="head", dispersion=True)


def test_dispersion_changes_the_feature_cache_key_and_only_then():
    """Features cached without dispersion keep their key (the option is off by default); with it they get another."""
    from sciml.materials.models import build_model

    plain = build_model("chgnet", freeze="head", stacking=True)
    assert plain.feature_key() == build_model("chgnet", freeze="head", stacking=True, dispersion=False).feature_key()
    assert plain.feature_key() == "c1ef0ff64776"  # the key of every stacking cache written before the option existed
    assert build_model("chgnet", freeze="head", stacking=True, dispersion=True).feature_key() != plain.feature_key()


def test_stacking_head_beats_the_train_mean_and_records_its_inputs(frozen_stacking_fold):
    from sciml.materials import saved_model

    _, fold_dir, metrics, _ = frozen_stacking_fold
    assert metrics["test"]["mae"] < 0.85 * metrics["baseline_train_mean"]["mae"], metrics["test"]
    model, spec = saved_model.load(fold_dir)
    assert spec["model_kwargs"]["stacking"] and model.stacking and model.head[0].in_features == 68


def test_stacking_descriptors_come_from_the_pretrained_potential_once_per_record(small_table):
    """A fine-tuned backbone does not move the descriptors (a frozen copy computes them), and a record seen
    before is not recomputed."""
    from sciml.materials.models import build_model

    graphs = small_table.graphs[:6]
    pretrained = build_model("chgnet", freeze="head", stacking=True)
    frozen = pretrained.stacking_descriptors(graphs)
    tuned = build_model("chgnet", freeze="none", stacking=True)
    with torch.no_grad():  # as if fine-tuning had moved every backbone weight
        for p in tuned.backbone.parameters():
            p.add_(0.05 * torch.randn_like(p))
        moved = tuned.backbone(list(graphs), task="e")["e"]
        assert not torch.allclose(moved, pretrained.backbone(list(graphs), task="e")["e"], atol=1e-3)
    assert torch.allclose(tuned.stacking_descriptors(graphs), frozen, atol=1e-6)

    def fail(*_):
        raise AssertionError("recomputed a cached record")

    tuned._potential_energies = fail
    assert torch.equal(tuned.stacking_descriptors(graphs[::-1]), torch.flip(frozen, [0]))


def test_frozen_features_head_beats_the_train_mean_in_seconds(frozen_fold):
    _, _, metrics, seconds = frozen_fold
    assert metrics["test"]["mae"] < 0.85 * metrics["baseline_train_mean"]["mae"], metrics["test"]
    assert metrics["epochs_trained"] == 60 and seconds < 120


@pytest.mark.parametrize("fold_fixture", ["frozen_fold", "frozen_stacking_fold", "frozen_dispersion_fold"])
def test_frozen_head_saved_model_predicts_from_graphs_like_the_feature_path(fold_fixture, shared_data, request):
    """Training ran on precomputed features; the saved model runs the backbone on graphs (and, with
    stacking, recomputes the restacking descriptors from them, D3 included with dispersion): same numbers."""
    from itertools import islice

    from sciml.materials import saved_model
    from sciml.materials.readers import read_matbench_json
    from sciml.materials.screening import predict_records

    _, fold_dir, _, _ = request.getfixturevalue(fold_fixture)
    with open(fold_dir / "predictions.csv", newline="") as fh:
        expected = {r["id"]: float(r["prediction"]) for r in csv.DictReader(fh)}
    model, spec = saved_model.load(fold_dir)
    records = [r for r in islice(read_matbench_json(shared_data / JDFT2D), 80) if r.id in expected]
    rows = [row for batch, _ in predict_records(model, spec, records, batch_size=7) for row in batch]
    assert len(rows) == 16
    for row in rows:
        assert row[3] == pytest.approx(expected[row[0]], rel=2e-5, abs=1e-4), row


def test_chgnet_output_is_invariant_to_atom_order(jdft2d_records):
    from pymatgen.core import Structure

    from sciml.materials.chgnet_data import collate_graphs, converter
    from sciml.materials.models import build_model

    torch.manual_seed(0)
    model = build_model("chgnet", freeze="none").eval()
    conv = converter()
    structs = [r.structure for r in jdft2d_records[:4]]
    out = model(collate_graphs([conv(s) for s in structs]))
    reordered = [Structure.from_sites(list(reversed(s.sites))) for s in structs]
    out2 = model(collate_graphs([conv(s) for s in reordered]))
    assert out.shape == (4,) and torch.isfinite(out).all()
    torch.testing.assert_close(out, out2, rtol=1e-4, atol=1e-4)


def test_lpft_fine_tuning_starts_from_the_probed_head(small_table, shared_data, tmp_path):
    """LP-FT: the probed head, put on the trainable backbone before any fine-tuning step, predicts what
    the head-only fit predicts (same features, same normalisation) and beats the train mean on the
    validation rows; the caller's table keeps no features (so fine-tuning runs on graphs)."""
    from sciml.materials.chgnet_data import chgnet_loader
    from sciml.materials.folds import split_fold
    from sciml.materials.lightning import CrystalRegressor, predict_loader
    from sciml.materials.models import model_kwargs
    from sciml.materials.probe import frozen_feature_table, probe_epochs, probe_head

    cfg = chgnet_config(freeze="none", probe={"epochs": 60, "lr": 0.005})
    assert probe_epochs(cfg) == 60 and "probe" not in model_kwargs(cfg, 0)
    split = split_fold(small_table, cfg, 0)
    y = small_table.y.numpy().astype(np.float64)
    logy = np.log(y[split["fit"]])
    feature_table = frozen_feature_table(cfg, small_table)
    assert small_table.features is None and feature_table.features.shape == (len(small_table), 65)
    head = probe_head(cfg, feature_table, split, chgnet_loader, float(logy.mean()), float(logy.std()), 0, tmp_path / "probe")
    module = CrystalRegressor(model_name="chgnet", model_kwargs=model_kwargs(cfg, 0), target_mean=float(logy.mean()),
                              target_std=float(logy.std()), log_target=True)
    module.model.head.load_state_dict(head)
    module.eval()
    pred = predict_loader(module, chgnet_loader(small_table, split["val"], 64))
    mae = np.abs(pred - y[split["val"]]).mean()
    assert mae < 0.85 * np.abs(y[split["fit"]].mean() - y[split["val"]]).mean(), mae
    frozen = {**model_kwargs(cfg, 0), "freeze": "head"}
    ref = CrystalRegressor(model_name="chgnet", model_kwargs=frozen, target_mean=float(logy.mean()),
                           target_std=float(logy.std()), log_target=True)
    ref.model.head.load_state_dict(head)
    ref.eval()
    np.testing.assert_allclose(pred, predict_loader(ref, chgnet_loader(small_table, split["val"], 64)), rtol=1e-4)


def test_lpft_off_with_a_frozen_backbone():
    from sciml.materials.probe import probe_epochs

    cfg = chgnet_config(freeze="head", probe={"epochs": 60})
    assert probe_epochs(cfg) == 0


def test_train_step_with_lpft_probes_then_fine_tunes_every_layer(tmp_path, shared_data, chgnet_fold):
    from sciml.materials.steps import train

    cfg = chgnet_config(freeze="none", probe={"epochs": 40, "lr": 0.005})
    cfg["train"]["max_epochs"] = 2
    metrics = train(cfg, 0, shared_data, tmp_path / "fold_0", tmp_path / "ckpt", chgnet_fold[3], threads=1)
    assert metrics["test"]["mae"] < 0.85 * metrics["baseline_train_mean"]["mae"], metrics["test"]
    assert metrics["epochs_trained"] == 2
    assert list((tmp_path / "ckpt").rglob("probe/ckpt/*.ckpt")), "the head-only fit checkpoints beside the member's"
    spec = (tmp_path / "fold_0" / "model.json").read_text()
    assert '"probe"' not in spec  # the saved model is rebuilt without the training procedure


def test_elements_chgnet_was_not_trained_on_are_refused_by_name():
    """Po, At, Rn, Fr, Ra lie within CHGNet's 94 embedding rows but not in its training set: their rows are
    still random, so a record with one is refused (as SevenNet's unknown elements are), not embedded."""
    from pymatgen.core import Lattice, Structure

    from sciml.materials.chgnet_data import convert_record, converter
    from sciml.materials.readers import RawRecord

    conv = converter()
    ok = Structure(Lattice.cubic(3.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    g, reason = convert_record(RawRecord("nacl", ok, None, None), conv, 94, 0.5, need_target=False)
    assert g is not None and reason is None
    ra = Structure(Lattice.cubic(3.0), ["Ra", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    g, reason = convert_record(RawRecord("rao", ra, None, None), conv, 94, 0.5, need_target=False)
    assert g is None and reason.startswith("element: Ra (Z=88) not among the 89 elements pretrained CHGNet")
