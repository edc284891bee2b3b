"""Shared fixtures of the proteins tests: a synthetic alignment with one planted contact."""

from __future__ import annotations

import numpy as np


def planted_alignment(n: int = 600, L: int = 12, seed: int = 0) -> np.ndarray:
    """(n, L) uint8 random sequences over the 20 amino acids where columns 1 and 9 are perfectly coupled
    (x9 = f(x1)): the one contact a coevolution model must find."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 20, size=(n, L)).astype(np.uint8)
    X[:, 9] = (X[:, 1] * 7 + 3) % 20
    return X
