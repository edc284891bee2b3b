"""Default config, manifest checksums of the embedded data, family loading, sequence features."""

from __future__ import annotations

import numpy as np

from sciml.config import domain_section
from sciml.data import resolve


def test_defaults_resolve_with_checksums(repo_root):
    cfg = domain_section("proteins")
    assert len(cfg["families"]) >= 3
    for fam in cfg["families"]:
        for key in ("alignment", "structure"):
            assert resolve(fam[key], repo_root / "data").is_file()  # sha256-verified against the manifest


def test_load_embedded_family(repo_root):
    from sciml.proteins import family

    spec = domain_section("proteins")["families"][1]  # the A3M one
    fam = family.load_family(spec, repo_root / "data")
    L = len(fam.sequence)
    assert fam.query_row == 0 and fam.identity == 1.0
    assert fam.X.shape[1] == len(fam.res) == L
    assert fam.native.shape == (L, L) and np.allclose(fam.native, fam.native.T)
    prof = family.profile_features(fam)
    assert prof.shape == (L, 22) and np.allclose(prof[:, :21].sum(1), 1.0)


def test_sequence_features_and_prior():
    import torch

    from sciml.proteins.sequence_model import N_SEQ_CHANNELS, separation_prior, seq_features

    f = seq_features("ACDEFGHIK")
    assert f.shape == (N_SEQ_CHANNELS, 9, 9)
    y = torch.zeros(9, 9)
    y[0, 2] = y[2, 0] = 1.0
    prior = separation_prior([{"y": y}], max_sep=20)
    assert prior[2] == 1 / 7 and prior[3] == 0.0 and prior[15] == prior[8]


def test_family_min_identity_overrides_the_global_one(shared_data):
    """Pfam40's .align.80 files hold a homolog of the structure's chain (here 88% identical),
    not the chain itself: the global 0.9 skips the family, its own min_identity admits it."""
    import pytest

    from sciml.errors import DataError
    from sciml.proteins import family

    spec = {"name": "PF00041", "alignment": "proteins/pfam40/natural_alignments/PF00041.align.80",
            "format": "fasta", "structure": "proteins/pfam40/domains/PF00041/1TEN_A.pdb", "chain": "A"}
    with pytest.raises(DataError, match="identity 0.88, need >= 0.90"):
        family.load_family(spec, shared_data, 0.9)
    fam = family.load_family({**spec, "min_identity": 0.8}, shared_data, 0.9)
    assert 0.8 <= fam.identity < 0.9
    assert len(fam.res) > 0.8 * len(fam.sequence)
    assert fam.native.shape == (len(fam.sequence),) * 2


def test_fold_split_holds_out_whole_families():
    from sciml.proteins.train import fold_split

    fams = [f"F{i:02d}" for i in range(11)]
    tested = []
    for k in range(4):
        test, val, train = fold_split(fams, k, 4, 2)
        assert len(val) == 2 and not set(test) & set(val)
        assert not (set(test) | set(val)) & set(train)
        assert sorted(test + val + train) == fams
        tested += test
    assert sorted(tested) == fams  # every family is tested exactly once
    # three families, three folds: one tests, one validates, one trains
    test, val, train = fold_split(["a", "b", "c"], 0, 3, 3)
    assert (test, val, train) == (["a"], ["b"], ["c"])


def test_the_saved_model_trains_on_as_many_families_as_the_cv_folds_did():
    """4 families, val_families 3, 5 folds: each CV fold model trains on 2 families and validates on 1;
    the saved model must not train on 1 and validate on 3 (a user's first workflow run did)."""
    from sciml.proteins.train import final_split, fold_split

    fams = [{"name": n} for n in ("d", "a", "c", "b")]
    n_folds = min(5, len(fams))
    cv_train = {len(fold_split(sorted(fams, key=lambda d: d["name"]), k, n_folds, 3)[2]) for k in range(n_folds)}
    train, val = final_split(fams, 3, 5)
    assert cv_train == {2} and [d["name"] for d in val] == ["d"] and [d["name"] for d in train] == ["a", "b", "c"]
    assert len(final_split(fams, 3)[0]) == 1  # uncapped (no n_folds): the old split
    many = [{"name": f"F{i:02d}"} for i in range(33)]  # the packaged model's 33 families, 5 folds: 3 validate
    assert [d["name"] for d in final_split(many, 3, 5)[1]] == ["F30", "F31", "F32"]


def test_ensemble_member_shares_the_single_seed_checkpoints():
    """Member m of an ensemble with seed s trains as (and keys its checkpoints like) the single
    run with seed s + m; logs of member 0 go into the fold folder, of m >= 1 below it."""
    from pathlib import Path

    from sciml.config import domain_section
    from sciml.proteins.train import CHECKPOINT_STEP, checkpoint_config
    from sciml.training import ensemble_members

    single = domain_section("proteins", '{"seed": 5}', None)
    ens = domain_section("proteins", '{"seed": 4, "network": {"ensemble": 3}}', None)
    members = ensemble_members(3, ens["seed"], "ck", CHECKPOINT_STEP, checkpoint_config(ens, "network", "d"), "cv/fold0")
    (alone,) = ensemble_members(1, single["seed"], "ck", CHECKPOINT_STEP, checkpoint_config(single, "network", "d"), "cv/fold0")
    assert [m.seed for m in members] == [4, 5, 6]
    assert members[1].checkpoint_dir == alone.checkpoint_dir and alone.seed == 5
    assert members[0].checkpoint_dir != members[1].checkpoint_dir
    assert members[0].log_dir == Path("cv/fold0") and members[2].log_dir == Path("cv/fold0/members/member_2")
    assert ens["network"]["ensemble"] == 3 and ens["seed"] == 4  # the input is not modified


def test_a_model_whose_cv_lost_to_potts_is_flagged_and_the_packaged_one_is_not(repo_root):
    import json

    from sciml.proteins.predict import model_cv_warning

    meta = {"cross_validation": {"mean": {"network": {"long_L/5": 0.12}, "potts": {"long_L/5": 0.40}}},
            "training": {"train_families": ["a"]}}
    note = model_cv_warning(meta)
    assert note and "0.120 vs 0.400" in note and "trained on 1 families" in note
    assert model_cv_warning({"cross_validation": {"mean": {"network": {"long_L/5": 0.5},
                                                           "potts": {"long_L/5": 0.4}}}}) is None
    assert model_cv_warning({}) is None  # nothing recorded: nothing claimed
    packaged = json.loads((repo_root / "sciml/proteins/pretrained/contact_network/model.json").read_text())
    assert model_cv_warning(packaged) is None


def test_network_checkpoints_follow_the_families_data_not_the_targets():
    import numpy as np

    from sciml.proteins.train import checkpoint_config, families_digest

    fams = [{"name": n, "sequence": "ACDE", "native": np.eye(4), "potts": np.ones((4, 4)), "metrics": {"x": i}}
            for i, n in enumerate(("b", "a"))]
    digest = families_digest(fams)
    assert families_digest(list(reversed(fams))) == digest  # order-free
    assert families_digest([{**fams[0], "metrics": {"x": 9}}, fams[1]]) == digest  # metrics are not data
    changed = [{**fams[0], "native": np.zeros((4, 4))}, fams[1]]
    assert families_digest(changed) != digest  # a changed native or score retrains
    cfg = {"seed": 0, "network": {"lr": 1e-3}, "targets": [{"name": "t"}], "threads": 1}
    key = checkpoint_config(cfg, "network", digest)
    assert checkpoint_config({**cfg, "targets": [], "threads": 2, "seed": 5}, "network", digest) == key
    assert checkpoint_config(cfg, "network", families_digest(changed)) != key
