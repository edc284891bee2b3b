"""Make the embedded default data of the proteins domain (data/proteins/).

Project-made, CCMgen-style synthetic families: for each of a few single-chain
structures shipped on PyPI (sdist ``mdanalysistests``, LGPL-3.0+; copied as they are),
a Potts model is built whose couplings sit on the structure's native C-beta contacts
(random symmetric 21x21 coupling blocks of strength ``--beta``), whose fields favour
the native residue, and sequences are drawn from it by Gibbs sampling (many
independent chains started from the native sequence). Some rows get terminal gaps.
The alignments are written in three formats (PSICOV .aln, A3M, FASTA) so the default
pipeline exercises each reader. Run from the repository root::

    python scripts/make_proteins_default_data.py --source ../shared/data/proteins/mdanalysis_dssp50

Contacts recovered from these alignments measure whether the pipeline works, not how
well it does on natural proteins (see BENCHMARKS.md for real data).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

FAMILIES = [("3a4rA", "aln"), ("2cviA", "a3m"), ("2xcjA", "fasta"), ("1lpbA", "aln")]


def sample_family(seq: str, native: np.ndarray, n_seqs: int, beta: float, sweeps: int, rng) -> np.ndarray:
    """Gibbs-sample ``n_seqs`` sequences (int states, ALPHABET order) from a contact-structured Potts model."""
    from sciml.proteins.alignments import ALPHABET, Q

    L = len(seq)
    x0 = np.array([ALPHABET.index(a) for a in seq])
    h = np.log(rng.dirichlet(np.full(Q - 1, 0.5), size=L) + 1e-3)
    h = np.concatenate([h, np.full((L, 1), -4.0)], axis=1)  # gaps rare inside
    h[np.arange(L), x0] += 1.5
    J = np.zeros((L, L, Q, Q))
    i_idx, j_idx = np.nonzero(np.triu(native == 1.0, k=3))
    for i, j in zip(i_idx, j_idx):
        block = rng.normal(0.0, beta, size=(Q, Q))
        J[i, j] = block
        J[j, i] = block.T
    X = np.tile(x0, (n_seqs, 1))
    for _ in range(sweeps):
        for i in rng.permutation(L):
            # energy of each state at i given the rest: h_i(a) + sum_j J_ij(a, x_j)
            e = h[i][None, :] + J[i][np.arange(L)[None, :], :, X].sum(axis=1)
            p = np.exp(e - e.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            u = rng.random((n_seqs, 1))
            X[:, i] = (p.cumsum(1) < u).sum(1).clip(max=Q - 1)
    # terminal gaps in 20% of rows (fragments), as real alignments have
    for r in rng.choice(n_seqs, n_seqs // 5, replace=False):
        k = rng.integers(1, max(2, L // 6))
        if rng.random() < 0.5:
            X[r, :k] = Q - 1
        else:
            X[r, L - k:] = Q - 1
    X[0] = x0
    return X


def write(path: Path, X: np.ndarray, fmt: str, name: str, rng) -> None:
    from sciml.proteins.alignments import ALPHABET

    rows = ["".join(ALPHABET[a] for a in row) for row in X]
    if fmt == "aln":
        text = "\n".join(rows) + "\n"
    elif fmt == "fasta":
        text = "".join(f">{name}_{k}\n{r}\n" for k, r in enumerate(rows))
    else:  # a3m: add a few lower-case insertions (dropped by the reader) after random columns
        out = []
        for k, r in enumerate(rows):
            if k and rng.random() < 0.1:
                c = int(rng.integers(1, len(r)))
                r = r[:c] + "".join(rng.choice(list("acdefghiklmnpqrstvwy"), 2)) + r[c:]
            out.append(f">{name}_{k}\n{r}\n")
        text = "".join(out)
    path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default="../shared/data/proteins/mdanalysis_dssp50")
    ap.add_argument("--out", default="data/proteins")
    ap.add_argument("--n-seqs", type=int, default=500)
    ap.add_argument("--beta", type=float, default=0.35)
    ap.add_argument("--sweeps", type=int, default=40)
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args()
    from sciml.proteins.structures import contact_map, read_structure

    out = Path(args.out)
    (out / "structures").mkdir(parents=True, exist_ok=True)
    (out / "alignments").mkdir(parents=True, exist_ok=True)
    for k, (name, fmt) in enumerate(FAMILIES):
        rng = np.random.default_rng(args.seed + k)
        src = Path(args.source) / f"{name}.pdb.gz"
        shutil.copyfile(src, out / "structures" / src.name)
        st = read_structure(src)
        X = sample_family(st.sequence, contact_map(st.cb), args.n_seqs, args.beta, args.sweeps, rng)
        write(out / "alignments" / f"{name}.{fmt}", X, fmt, name, rng)
        print(name, fmt, X.shape)


if __name__ == "__main__":
    main()
