"""Protein structures through ``Bio.PDB``: one explicit model and chain, residue
coordinates, C-beta (real, C-alpha for Gly, or virtual from N/CA/C) and native maps.

What is dropped is said, never silent: other models and chains, waters and ligands
(HETATM that are not amino acids, and free amino acids: a HETATM amino acid after the chain's
last ATOM residue is kept only when peptide-bonded to a neighbour), residues without a C-alpha, alternate
locations (Bio.PDB keeps the highest-occupancy one). Modified residues such as MSE
are kept and mapped to their parent amino acid; insertion codes stay separate residues.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sciml.errors import DataError

#: Native contact threshold on C-beta distance (Angstrom) and separation ranges (CASP).
CONTACT_CUTOFF = 8.0


@dataclass
class ChainStructure:
    """One chain: ``sequence`` (one letter per kept residue), ``residue_ids`` (e.g. "27A"),
    ``ca``/``cb`` (L, 3) float arrays in Angstrom, ``cb_source`` per residue
    ("CB", "CA-gly" or "virtual"), ``notes`` saying what was dropped, and ``other_chains``: the ids
    of the model's other chains."""

    path: str
    model: int
    chain: str
    sequence: str
    residue_ids: list[str]
    ca: Any
    cb: Any
    cb_source: list[str]
    notes: list[str] = field(default_factory=list)
    other_chains: tuple[str, ...] = ()

    @property
    def length(self) -> int:
        return len(self.sequence)


def virtual_cb(n: Any, ca: Any, c: Any) -> Any:
    """Ideal C-beta position from backbone N, CA, C (arrays (..., 3), Angstrom).

    Uses the standard tetrahedral construction (as in trRosetta/AlphaFold data code).
    """
    import numpy as np

    b = ca - n
    cc = c - ca
    a = np.cross(b, cc)
    return -0.58273431 * a + 0.56802827 * b - 0.54067466 * cc + ca


def _one_letter(resname: str) -> str | None:
    from Bio.Data.PDBData import protein_letters_3to1_extended

    letter = protein_letters_3to1_extended.get(resname.upper())
    return letter if letter and letter in "ACDEFGHIKLMNPQRSTVWY" else None


def read_structure(path: str | Path, chain: str | None = None, model: int = 0) -> ChainStructure:
    """Parse PDB (.pdb/.ent, optionally .gz) or mmCIF (.cif) and return one chain.

    ``model`` is the 0-based model index; ``chain`` the chain id (default: the first
    chain with amino-acid residues). Raises :class:`DataError` when the chain is
    missing or has no C-alpha atoms; it names the model as PDB MODEL records number it (from 1).
    """
    import gzip
    import io
    import warnings
    import zlib

    import numpy as np
    from Bio.PDB import MMCIFParser, PDBParser
    from Bio.PDB.PDBExceptions import PDBConstructionWarning

    path = Path(path)
    name = path.name.lower().removesuffix(".gz")
    try:
        # a byte-order mark skipped (mmCIF must start with data_); a byte that is no UTF-8 in a REMARK replaced
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8-sig", errors="replace") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise DataError(path, "structure file not found") from None
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:  # EOFError: truncated gzip
        raise DataError(path, f"cannot read ({type(exc).__name__}: {exc})") from None
    parser = MMCIFParser(QUIET=True) if name.endswith((".cif", ".mmcif")) else PDBParser(QUIET=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PDBConstructionWarning)
            struct = parser.get_structure(path.stem, io.StringIO(raw))
    except Exception as exc:  # Bio.PDB raises several types on malformed files
        raise DataError(path, f"cannot parse structure ({type(exc).__name__}: {exc})") from None
    models = list(struct)
    if not models:
        raise DataError(path, "no models (no ATOM/HETATM records)")
    if model >= len(models):
        raise DataError(path, f"model index {model} requested but the file has {len(models)} model(s)")
    notes = []
    if len(models) > 1:
        notes.append(f"{len(models)} models in file; used model index {model}, dropped the others")
    mdl = models[model]
    chains = {ch.id: ch for ch in mdl}
    if chain is None:
        protein = [cid for cid, ch in chains.items() if any(_one_letter(r.get_resname()) for r in ch)]
        if not protein:
            raise DataError(path, "no chain with amino-acid residues")
        chain = protein[0]
    if chain not in chains:
        raise DataError(path, f"chain {chain!r} not found", record=f"model {model + 1}",
                        hint=f"chains present: {', '.join(sorted(chains)) or 'none'}")
    others = sorted(c for c in chains if c != chain)
    if others:
        notes.append(f"used chain {chain}; dropped chain(s) {', '.join(others)}")
    seq, ids, ca, cb, src = [], [], [], [], []
    dropped_het: dict[str, int] = {}
    no_ca, ligands = [], []
    modified = {}
    altloc = 0
    residues = list(chains[chain])
    last_polymer = max((k for k, r in enumerate(residues) if r.id[0] == " "), default=-1)  # last ATOM residue
    for k, res in enumerate(residues):
        hetflag, resseq, icode = res.id
        resname = res.get_resname()
        letter = _one_letter(resname)
        rid = f"{resseq}{icode.strip()}"
        if letter is None:
            dropped_het[resname] = dropped_het.get(resname, 0) + 1
            continue
        if hetflag.strip() and hetflag != " ":
            # a HETATM amino acid after the chain's last ATOM residue and peptide-bonded to no neighbour is a free
            # one (a LYS or GLU ligand in a binding site), not a residue of the chain (MSE, a modified residue)
            if k > last_polymer and not _peptide_bonded(residues, k):
                ligands.append(f"{resname}{rid}")
                continue
            modified[resname] = modified.get(resname, 0) + 1
        if "CA" not in res:
            no_ca.append(f"{resname}{rid}")
            continue
        altloc += sum(1 for a in res if a.is_disordered())
        xyz_ca = res["CA"].coord.astype(float)
        if letter == "G":
            xyz_cb, s = xyz_ca, "CA-gly"
        elif "CB" in res:
            xyz_cb, s = res["CB"].coord.astype(float), "CB"
        elif "N" in res and "C" in res:
            xyz_cb, s = virtual_cb(res["N"].coord.astype(float), xyz_ca, res["C"].coord.astype(float)), "virtual"
        else:
            xyz_cb, s = xyz_ca, "CA-fallback"
        seq.append(letter)
        ids.append(rid)
        ca.append(xyz_ca)
        cb.append(xyz_cb)
        src.append(s)
    if not seq:
        raise DataError(path, f"chain {chain!r} has no amino-acid residue with a C-alpha atom", record=f"model {model + 1}",
                        hint="contact maps need at least C-alpha coordinates")
    if dropped_het:
        notes.append("dropped non-amino-acid residues: " + ", ".join(f"{k} x{v}" for k, v in sorted(dropped_het.items())))
    if ligands:
        notes.append(f"dropped {len(ligands)} amino acid(s) not bonded to the chain (HETATM ligands): "
                     + ", ".join(ligands[:10]))
    if modified:
        notes.append("kept modified residues as their parent amino acid: " + ", ".join(f"{k} x{v}" for k, v in sorted(modified.items())))
    if no_ca:
        notes.append(f"dropped {len(no_ca)} residue(s) without CA: {', '.join(no_ca[:10])}")
    if altloc:
        notes.append(f"{altloc} atom(s) with alternate locations: kept the highest-occupancy one")
    n_ins = sum(1 for r in ids if not r[-1].isdigit())
    if n_ins:
        notes.append(f"{n_ins} residue(s) with insertion codes kept as separate residues")
    n_virtual = src.count("virtual") + src.count("CA-fallback")
    if n_virtual:
        notes.append(f"{n_virtual} residue(s) without CB: virtual CB from N/CA/C (CA if backbone incomplete)")
    return ChainStructure(str(path), model, chain, "".join(seq), ids, np.asarray(ca), np.asarray(cb), src, notes,
                          tuple(others))


#: A peptide bond's C-N distance is 1.33 A; a C and an N closer than this belong to bonded residues.
PEPTIDE_BOND_MAX = 2.0


def _peptide_bonded(residues: list[Any], k: int) -> bool:
    """True when residue ``k`` of the chain's ``residues`` (Bio.PDB residues in file order) is peptide-bonded to
    the residue before it (its C to this N) or after it (this C to its N)."""
    import numpy as np

    def bonded(a: Any, b: Any) -> bool:
        return "C" in a and "N" in b and float(np.linalg.norm(a["C"].coord - b["N"].coord)) < PEPTIDE_BOND_MAX

    return (k > 0 and bonded(residues[k - 1], residues[k])) or \
        (k + 1 < len(residues) and bonded(residues[k], residues[k + 1]))


#: Consecutive C-alphas farther apart than this (Angstrom) are not bonded: residues are missing between them
#: (a bonded pair is 3.8 A apart; cis-peptides 2.9 A).
CHAIN_BREAK_CA = 4.2


def sequence_positions(st: ChainStructure) -> tuple[Any, list[str]]:
    """0-based positions along the chain of each kept residue of ``st`` ((L,) int), counting the residues
    missing from the model between them (CASP measures sequence separation and L along the sequence, not
    over the residues a model happens to hold), and notes saying what was counted.

    A gap is a pair of consecutive C-alphas more than :data:`CHAIN_BREAK_CA` apart; its missing residues
    are read from the residue numbers (a jump of 5 -> 9 is 3 missing). Bonded residues are consecutive
    whatever their numbers (a renumbered chain, insertion codes); a break whose numbers show no missing
    residue counts none, and is noted."""
    import numpy as np

    n = len(st.sequence)
    pos = np.zeros(n, dtype=np.int64)
    numbers = [_residue_number(r) for r in st.residue_ids]
    missing_total, unknown = 0, []
    for k in range(1, n):
        step = 1
        if float(np.linalg.norm(st.ca[k] - st.ca[k - 1])) > CHAIN_BREAK_CA:
            a, b = numbers[k - 1], numbers[k]
            gap = b - a - 1 if a is not None and b is not None else 0
            if gap > 0:
                step += gap
                missing_total += gap
            else:
                unknown.append(f"{st.residue_ids[k - 1]}-{st.residue_ids[k]}")
        pos[k] = pos[k - 1] + step
    notes = []
    if missing_total:
        notes.append(f"{missing_total} residue(s) missing from the structure between observed ones (chain breaks, "
                     f"by residue numbers): counted in sequence separations and L ({int(pos[-1]) + 1} residues "
                     f"from the first observed to the last), as CASP counts along the sequence")
    if unknown:
        notes.append(f"{len(unknown)} chain break(s) whose residue numbers show no missing residue "
                     f"({', '.join(unknown[:5])}): counted as adjacent")
    return pos, notes


def _residue_number(rid: str) -> int | None:
    """The integer residue number of an id such as ``"27"``, ``"27A"`` (an insertion code: 27) or ``"-3"``;
    None when it has none. A break after 49B to 55 has 5 residues missing (50-54): read as None, it counted
    as adjacent, and every separation across it was 5 short."""
    from sciml.proteins.query import residue_number

    return residue_number(rid)


def distance_map(coords: Any) -> Any:
    """(L, L) Euclidean distances (Angstrom) between rows of ``coords`` (L, 3); NaN rows give NaN."""
    import numpy as np

    diff = coords[:, None, :] - coords[None, :, :]
    return np.sqrt((diff ** 2).sum(-1))


def contact_map(cb: Any, cutoff: float = CONTACT_CUTOFF) -> Any:
    """Native contacts: float (L, L) of 1.0 where C-beta distance < ``cutoff``, 0.0 else, NaN unknown."""
    import numpy as np

    d = distance_map(np.asarray(cb, dtype=float))
    out = (d < cutoff).astype(float)
    out[np.isnan(d)] = np.nan
    return out
