"""Calibration of contact probabilities (Brier score, reliability table, ECE)."""

import numpy as np

from sciml.proteins.calibration import calibration, scored_pairs


def _protein(L: int, seed: int, distort=lambda p: p):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.0, 0.4, size=(L, L))
    native = (rng.random((L, L)) < p).astype(float)
    return distort(p), native


def test_calibrated_probabilities_score_well_and_distorted_ones_do_not():
    good = calibration([_protein(300, s) for s in range(3)])
    bad = calibration([_protein(300, s, distort=lambda p: np.sqrt(p)) for s in range(3)])  # over-confident
    assert good["ece"] < 0.01 and good["brier_skill"] > 0.05
    assert bad["ece"] > 0.1 and bad["brier"] > good["brier"]
    # in each bin of the calibrated forecast the observed rate matches the mean prediction
    for b in good["reliability"]:
        assert abs(b["observed"] - b["mean_predicted"]) < 0.02
    # a constant forecast of the base rate has no skill
    flat = calibration([(np.full((300, 300), good["contact_rate"]), _protein(300, 0)[1])])
    assert abs(flat["brier_skill"]) < 0.02


def test_only_scored_pairs_count():
    L = 20
    native = np.zeros((L, L))
    native[0, 10] = np.nan  # unknown native: not scored
    probs = np.full((L, L), 0.5)
    p, y = scored_pairs(probs, native)
    n_sep6 = sum(1 for i in range(L) for j in range(i + 6, L))
    assert len(p) == len(y) == n_sep6 - 1
    assert calibration([])["pairs"] == 0


def test_calibration_over_the_pairs_an_rr_file_lists():
    """top_per_residue k keeps each protein's k L most probable pairs with |i-j| >= 6 (chosen before the native is
    read; those with an unknown native then drop out), as the RR file lists 5 L of them."""
    L = 20
    i, j = np.triu_indices(L, 6)
    probs = np.zeros((L, L))
    probs[i, j] = np.linspace(0.01, 0.99, len(i))  # the last L pairs are the most probable
    native = np.zeros((L, L))
    native[i[-L:], j[-L:]] = 1.0
    native[i[-1], j[-1]] = np.nan  # the most probable pair's native is unknown
    p, y = scored_pairs(probs, native, top=L)
    assert len(p) == L - 1 and y.all() and p.min() == probs[i[-L], j[-L]]
    listed = calibration([(probs, native)], top_per_residue=1)
    assert listed["pairs"] == L - 1 and listed["contact_rate"] == 1.0
    assert calibration([(probs, native)])["pairs"] == len(i) - 1
