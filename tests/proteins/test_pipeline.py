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
    from sciml.proteins import pipeline

    spec = domain_section("proteins")["families"][1]  # the A3M one
    fam = pipeline.load_family(spec, repo_root / "data")
    L = len(fam.sequence)
    assert fam.query_row == 0 and fam.identity == 1.0
    assert fam.X.shape[1] == len(fam.res) == L
    assert fam.native.shape == (L, L) and np.allclose(fam.native, fam.native.T)
    prof = pipeline.profile_features(fam)
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
