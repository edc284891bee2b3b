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


def test_ensemble_member_shares_the_single_seed_checkpoints():
    """Member m of an ensemble with seed s trains as (and keys its checkpoints like) the single
    run with seed s + m; logs of member 0 go into the fold folder, of m >= 1 below it."""
    from pathlib import Path

    from sciml.config import domain_section
    from sciml.proteins.train import CHECKPOINT_STEP, checkpoint_config
    from sciml.training import ensemble_members

    single = domain_section("proteins", '{"seed": 5}', None)
    ens = domain_section("proteins", '{"seed": 4, "network": {"ensemble": 3}}', None)
    members = ensemble_members(3, ens["seed"], "ck", CHECKPOINT_STEP, checkpoint_config(ens), "cv/fold0")
    (alone,) = ensemble_members(1, single["seed"], "ck", CHECKPOINT_STEP, checkpoint_config(single), "cv/fold0")
    assert [m.seed for m in members] == [4, 5, 6]
    assert members[1].checkpoint_dir == alone.checkpoint_dir and alone.seed == 5
    assert members[0].checkpoint_dir != members[1].checkpoint_dir
    assert members[0].log_dir == Path("cv/fold0") and members[2].log_dir == Path("cv/fold0/members/member_2")
    assert ens["network"]["ensemble"] == 3 and ens["seed"] == 4  # the input is not modified
