"""Multiple sequence alignment readers, integer encoding and sequence weights.

Formats: PSICOV ``.aln`` (one aligned sequence per line), A3M (lower-case insertion
columns and '.' dropped), FASTA/A2M (A2M lower-case/'.' insert states dropped) and
Stockholm and Clustal (through ``Bio.AlignIO``). Every reader returns an :class:`Alignment` of
upper-case, equal-length rows and raises :class:`~sciml.errors.DataError` naming the
file and line of the first bad record.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sciml.errors import DataError

#: The 20 amino acids then the gap: state index 0..20 (q = 21), as in GREMLIN/CCMpred order-free use.
ALPHABET = "ARNDCQEGHILKMFPSTWYV-"
GAP = 20
Q = 21
#: Ambiguity codes accepted in alignments and mapped to the gap state (no information).
AMBIGUOUS = "XBZJUO"
_VALID = set(ALPHABET) | set(AMBIGUOUS) | {"."}
FORMATS = ("aln", "a3m", "fasta", "a2m", "stockholm", "clustal")
#: Names of the annotation rows HH-suite writes into A3M/FASTA files (``hhblits -addss``, ``addss.pl``,
#: ``hhconsensus``): secondary structure / accessibility strings and the consensus, not homologues.
HH_ANNOTATION_ROWS = ("ss_pred", "ss_conf", "ss_dssp", "sa_dssp", "Consensus")


@dataclass
class Alignment:
    """Aligned sequences: ``seqs[k]`` are equal-length upper-case strings (gap '-').

    ``lines[k]`` is the 1-based line of the file where record ``k`` starts (the record number
    for Stockholm). ``raw[k]``, filled by the readers that drop insert states (A3M, A2M,
    Stockholm), is row ``k`` before that, in A3M style: match columns upper case or '-', insert
    states lower case or '.'; empty when no insert states were dropped. ``notes``: what the reader
    left out of the file and why (e.g. HH-suite annotation rows), for the report.
    """

    path: str
    ids: list[str]
    seqs: list[str]
    lines: list[int] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def n_seqs(self) -> int:
        return len(self.seqs)

    @property
    def length(self) -> int:
        return len(self.seqs[0]) if self.seqs else 0

    def residue_numbers(self, k: int) -> tuple[list[int], int]:
        """Row ``k``'s own residue numbers: for each match column the 1-based number of its residue
        in the row's full sequence (insert residues counted, 0 at a gap), and how many of the
        row's residues sit in insert states (dropped from ``seqs[k]``)."""
        return match_residue_numbers(self.raw[k] if self.raw else self.seqs[k])

    def encode(self) -> Any:
        """(N, L) ``numpy.uint8`` array of state indices (ALPHABET order; ambiguity -> gap)."""
        import numpy as np

        table = np.full(256, GAP, dtype=np.uint8)
        for k, aa in enumerate(ALPHABET):
            table[ord(aa)] = k
        raw = np.frombuffer("".join(self.seqs).encode("ascii"), dtype=np.uint8)
        return table[raw].reshape(self.n_seqs, self.length)


def match_residue_numbers(raw: str) -> tuple[list[int], int]:
    """For an A3M-style row (match states upper case/'-', insert states lower case/'.'), the
    1-based residue number of each match column in the row's full sequence (0 at a gap), and
    the number of insert residues."""
    numbers: list[int] = []
    n = inserts = 0
    for c in raw:
        if c.isalpha():
            n += 1
            if c.islower():
                inserts += 1
                continue
        elif c == ".":
            continue
        numbers.append(n if c.isalpha() else 0)
    return numbers, inserts


def _clean_row(path: str, line_no: int, text: str, drop_inserts: bool, unit: str = "line") -> str:
    """Validate the characters of one aligned row; drop A3M/A2M insert states when asked.
    ``unit``: what ``line_no`` counts in error messages ("line", or "record" for Stockholm)."""
    if drop_inserts:
        text = re.sub(r"[a-z.]", "", text)
    text = text.rstrip("*")  # a translation's stop codon ends the row: no column (elsewhere '*' is refused)
    up = text.upper()
    bad = [c for c in set(up) if c not in _VALID]
    if bad:
        col = min(up.index(c) for c in bad) + 1
        raise DataError(path, f"character {up[col - 1]!r} at column {col} is outside the amino-acid alphabet "
                        f"({ALPHABET[:-1]}, gap '-', ambiguity {AMBIGUOUS})", record=f"{unit} {line_no}")
    return up.replace(".", "-")


def _finish(path: str, ids: list[str], seqs: list[str], lines: list[int], min_rows: int = 2,
            unit: str = "line") -> Alignment:
    """Check the rows are equal-length and enough; ``unit`` names what ``lines`` count in errors."""
    if not seqs:
        raise DataError(path, "no sequences found", hint="is this an alignment file?")
    length = len(seqs[0])
    for s, ln in zip(seqs, lines):
        if len(s) != length:
            raise DataError(path, f"row of length {len(s)} differs from the first row's {length}",
                            record=f"{unit} {ln}", hint="all aligned rows must have the same number of match columns")
    if length == 0:
        raise DataError(path, "the aligned rows are empty")
    if len(seqs) < min_rows:
        raise DataError(path, "only a single sequence: coevolution needs an alignment of many homologues",
                        hint="use the sequence-only model for proteins without alignments")
    return Alignment(path=path, ids=ids, seqs=seqs, lines=lines)


def open_text(path: str | Path, encoding: str = "utf-8-sig", errors: str = "strict") -> Any:
    """Open ``path`` for reading text, gunzipping it when its name ends in ``.gz``: the one opener of
    every alignment format (PSICOV, FASTA/A3M/A2M, Stockholm, Clustal). UTF-8 with a byte-order mark
    skipped (some Windows editors write one); the rows are checked against the alphabet afterwards."""
    import gzip

    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding=encoding, errors=errors)
    return open(path, encoding=encoding, errors=errors)


def _read_text(path: Path) -> list[str]:
    """The file's lines. A byte that is no UTF-8 (Latin-1 in a header line) is replaced, not fatal: in a row
    the replaced character is refused by the alphabet check (:func:`_clean_row`), naming the line."""
    try:
        with open_text(path, errors="replace") as fh:
            return fh.read().splitlines()
    except FileNotFoundError:
        raise DataError(path, "alignment file not found") from None
    except (UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:  # EOFError: truncated gzip
        raise DataError(path, f"cannot read as UTF-8 text ({type(exc).__name__}: {exc})") from None


def read_aln(path: str | Path, min_rows: int = 2) -> Alignment:
    """PSICOV ``.aln``: one aligned sequence per line, no headers."""
    path = Path(path)
    ids, seqs, lines = [], [], []
    for ln, raw in enumerate(_read_text(path), start=1):
        text = raw.strip()
        if not text:
            continue
        if text.startswith(">"):
            raise DataError(path, "FASTA header in a PSICOV .aln file", record=f"line {ln}",
                            hint="read it as FASTA/A3M (format 'fasta' or 'a3m')")
        if text.upper().startswith("CLUSTAL"):
            raise DataError(path, "Clustal header in a file read as PSICOV .aln", record=f"line {ln}",
                            hint="read it as Clustal (format 'clustal', or leave the format out)")
        seqs.append(_clean_row(str(path), ln, text, drop_inserts=False))
        ids.append(f"row{len(seqs)}")
        lines.append(ln)
    return _finish(str(path), ids, seqs, lines, min_rows)


def _read_fasta_like(path: Path, drop_inserts: bool, min_rows: int = 2) -> Alignment:
    """FASTA/A3M/A2M records through Biopython's ``SimpleFastaParser``; the insert handling of
    A3M/A2M (:func:`_clean_row`) is ours, as Biopython has none. Line numbers for the errors
    come from the header lines (Biopython's parser does not report them)."""
    from io import StringIO

    from Bio.SeqIO.FastaIO import SimpleFastaParser

    # '#' comment lines (HHblits/HH-suite write them) and blank lines are not FASTA: drop them first
    kept = [(ln, raw.strip()) for ln, raw in enumerate(_read_text(path), start=1)
            if raw.strip() and not raw.strip().startswith("#")]
    if kept and not kept[0][1].startswith(">"):
        raise DataError(path, "sequence data before the first '>' header", record=f"line {kept[0][0]}")
    lines = [ln for ln, text in kept if text.startswith(">")]
    records = list(SimpleFastaParser(StringIO("\n".join(text for _, text in kept))))
    ids = [title.split()[0] if title.strip() else f"row{k + 1}" for k, (title, _) in enumerate(records)]
    annotation = [i for i in ids if i in HH_ANNOTATION_ROWS]
    if annotation:  # HH-suite's ss_pred/ss_dssp/... rows are strings of states, not sequences: never a query
        keep = [k for k, i in enumerate(ids) if i not in HH_ANNOTATION_ROWS]
        ids, lines, records = [ids[k] for k in keep], [lines[k] for k in keep], [records[k] for k in keep]
    seqs = [_clean_row(str(path), ln, seq, drop_inserts) for (_, seq), ln in zip(records, lines)]
    if not drop_inserts and len({len(q) for q in seqs}) > 1 and any(c.islower() for _, seq in records for c in seq):
        k = next(k for k, q in enumerate(seqs) if len(q) != len(seqs[0]))
        raise DataError(path, f"row of length {len(seqs[k])} differs from the first row's {len(seqs[0])}, and rows "
                              "hold lower-case letters: A3M insert residues, most likely", record=f"line {lines[k]}",
                        hint="read it as A3M (format 'a3m', or name the file .a3m)")
    aln = _finish(str(path), ids, seqs, lines, min_rows)
    if not drop_inserts and any(row != row.upper() for _, row in records):
        # equal-length rows with lower case: an A2M read as FASTA keeps its insert columns as match columns
        import numpy as np

        width = len(records[0][1])
        rows = np.frombuffer("".join(row.ljust(width)[:width] for _, row in records).encode("ascii", "replace"),
                             dtype=np.uint8).reshape(len(records), width)
        lower = int(((rows >= ord("a")) & (rows <= ord("z"))).any(axis=0).sum())
        if lower:
            aln.notes.append(f"{lower} of {len(seqs[0])} columns hold lower-case letters, read as match columns (FASTA): "
                             "if they are insert states, read the file as A2M (format 'a2m')")
    if annotation:
        aln.notes.append(f"{len(annotation)} HH-suite annotation row(s) skipped (not sequences): "
                         + ", ".join(annotation))
    if drop_inserts and any(len(seq) != len(s) for (_, seq), s in zip(records, seqs)):
        aln.raw = [seq for _, seq in records]
    return aln


def read_a3m(path: str | Path, min_rows: int = 2) -> Alignment:
    """A3M (HHblits): lower-case letters are insertions relative to the query and are dropped."""
    return _read_fasta_like(Path(path), drop_inserts=True, min_rows=min_rows)


def read_fasta(path: str | Path, a2m: bool = False, min_rows: int = 2) -> Alignment:
    """Aligned FASTA (all characters are columns) or A2M (``a2m=True``: lower-case and '.' dropped)."""
    return _read_fasta_like(Path(path), drop_inserts=a2m, min_rows=min_rows)


def _stockholm_match_columns(path: Path, rows: list[str], ids: list[str], rf: str | None) -> list[int]:
    """Indices of the match columns of Stockholm rows read by Biopython.

    Biopython turns the insert-state '.' into '-', so a '-' does not tell a deletion in a match
    column from padding in an insert column. An insert column is one holding a lower-case
    residue, or (when the file has a ``#=GC RF`` line) one that RF marks '.'/'-' and that holds
    no upper-case residue; a column mixing upper- and lower-case residues is an error.
    """
    if not rows:
        return []
    keep = []
    for k in range(len(rows[0])):
        col = [r[k] for r in rows]
        upper = [i for i, c in enumerate(col) if c.isupper()]
        lower = [i for i, c in enumerate(col) if c.islower()]
        if upper and lower:
            raise DataError(path, f"alignment column {k + 1} mixes match (upper-case, e.g. {ids[upper[0]]}) and "
                                  f"insert (lower-case) residues", record=f"record {lower[0] + 1}",
                            hint="in Stockholm/A2M a column is either a match column (upper case and '-') or an "
                                 "insert column (lower case and '.')")
        if lower or (rf is not None and k < len(rf) and rf[k] in ".-" and not upper):
            continue
        keep.append(k)
    return keep


def read_stockholm(path: str | Path, min_rows: int = 2) -> Alignment:
    """Stockholm through ``Bio.AlignIO``; insert columns (lower-case residues, '.' elsewhere, or
    '.' in the ``#=GC RF`` line) are dropped, keeping the match columns.

    Errors name the record (the 1-based sequence number), as Biopython gives no line numbers."""
    from io import StringIO

    from Bio import AlignIO

    path = Path(path)
    # a byte-order mark skipped; a byte that is no UTF-8 (Latin-1 text in a #=GF line of an older Pfam
    # file) replaced (_read_text), and refused only where it stands in a row
    lines = _read_text(path)
    bad = next((k for k, ln in enumerate(lines, start=1) if "\ufffd" in ln and not ln.lstrip().startswith("#")), None)
    if bad is not None:
        raise DataError(path, "a byte that is no UTF-8 text outside the annotation (#) lines", record=f"line {bad}")
    try:
        aln = AlignIO.read(StringIO("\n".join(lines) + "\n"), "stockholm")
    except Exception as exc:  # noqa: BLE001 -- Bio.AlignIO's Stockholm parser raises ValueError,
        # AssertionError, UnicodeDecodeError, ... on malformed files; all mean "not valid Stockholm".
        raise DataError(path, f"not a valid Stockholm alignment ({type(exc).__name__}: {exc})") from None
    rows = [str(rec.seq) for rec in aln]
    ids = [rec.id for rec in aln]
    rf = (getattr(aln, "column_annotations", None) or {}).get("reference_annotation")
    # Pfam Stockholm marks insert states with lower case / '.'; keep match columns only.
    keep = _stockholm_match_columns(path, rows, ids, rf)
    seqs = [_clean_row(str(path), i + 1, "".join(r[k] for k in keep), drop_inserts=False, unit="record")
            for i, r in enumerate(rows)]
    aln = _finish(str(path), ids, seqs, [i + 1 for i in range(len(seqs))], min_rows, unit="record")
    if rows and len(keep) < len(rows[0]):  # the rows in A3M style: insert columns lower case / '.'
        match = set(keep)
        aln.raw = ["".join(c if k in match else ("." if c == "-" else c.lower()) for k, c in enumerate(r))
                   for r in rows]
    return aln


def read_clustal(path: str | Path, min_rows: int = 2) -> Alignment:
    """Clustal (``CLUSTAL`` header, blocks of ``id row``) through ``Bio.AlignIO``; every column is
    kept. Errors name the record (the 1-based sequence number)."""
    from io import StringIO

    from Bio import AlignIO

    path = Path(path)
    lines = _read_text(path)
    # the conservation lines ('*', ':', '.' under the columns) carry nothing we read, and Biopython refuses one
    # whose trailing blanks an editor stripped (an empty AssertionError): they are left out before it parses
    rows = [ln for ln in lines if not (ln[:1].isspace() and ln.strip() and set(ln.strip()) <= set("*:. "))]
    try:
        aln = AlignIO.read(StringIO("\n".join(rows) + "\n"), "clustal")
    except Exception as exc:  # noqa: BLE001 -- as for Stockholm: any parser failure means "not valid Clustal"
        why = (f"{type(exc).__name__}: {exc}" if str(exc)
               else "the rows of a block must start their residues in one column")
        raise DataError(path, f"not a valid Clustal alignment ({why})") from None
    seqs = [_clean_row(str(path), i + 1, str(rec.seq), drop_inserts=False, unit="record") for i, rec in enumerate(aln)]
    return _finish(str(path), [rec.id for rec in aln], seqs, [i + 1 for i in range(len(seqs))], min_rows,
                   unit="record")


def _first_line(path: Path) -> str:
    """The file's first non-blank line (byte-order mark dropped); empty when it cannot be read."""
    try:
        with open_text(path, errors="replace") as fh:
            head = fh.read(4096)
    except (OSError, EOFError, zlib.error):
        return ""  # the reader reports the file's problem
    return next((ln for ln in head.splitlines() if ln.strip()), "").lstrip("\ufeff")


def _is_clustal(path: Path) -> bool:
    """True when the file's first non-blank line is a Clustal header: it starts with ``CLUSTAL`` (also
    MUSCLE's), or names the format in words (Kalign: ``Kalign (2.0) alignment in ClustalW format``); a
    sequence row has no blank, so a PSICOV row is never taken for one."""
    first = _first_line(path).upper()
    return first.startswith(("CLUSTAL", "MUSCLE")) or (" " in first.strip() and "CLUSTAL" in first)


def _is_stockholm(path: Path) -> bool:
    """True when the file starts with the ``# STOCKHOLM`` header (Pfam/InterPro downloads are named
    ``PF00001.alignment.full`` or ``.txt``, not ``.sto``)."""
    return _first_line(path).upper().replace(" ", "").startswith("#STOCKHOLM")


def guess_format(path: str | Path) -> str:
    """Format from the file name: .aln/.psicov, .a3m, .a2m, .sto/.stockholm, .clustal/.clw, else
    FASTA; a file whose first line is a ``# STOCKHOLM`` or a Clustal header is that format whatever its
    name (Pfam downloads end in .full or .txt; Clustal files often end in .aln, as PSICOV ones do)."""
    name = Path(path).name.lower().removesuffix(".gz")
    if _is_stockholm(Path(path)):
        return "stockholm"
    if name.endswith((".clustal", ".clw")) or _is_clustal(Path(path)):
        return "clustal"
    if name.endswith((".aln", ".psicov")):
        return "aln"
    if name.endswith(".a3m"):
        return "a3m"
    if name.endswith(".a2m"):
        return "a2m"
    if name.endswith((".sto", ".stockholm", ".stk")):
        return "stockholm"
    return "fasta"


def read_alignment(path: str | Path, fmt: str | None = None, min_rows: int = 2) -> Alignment:
    """Read an alignment in ``fmt`` (one of :data:`FORMATS`; guessed from the name when None).

    Fewer than ``min_rows`` rows is a DataError (2 for coevolution; 1 where a lone sequence is
    predicted by the sequence-only model)."""
    fmt = fmt or guess_format(path)
    if fmt == "aln":
        return read_aln(path, min_rows)
    if fmt == "a3m":
        return read_a3m(path, min_rows)
    if fmt in ("fasta", "a2m"):
        return read_fasta(path, a2m=(fmt == "a2m"), min_rows=min_rows)
    if fmt == "stockholm":
        return read_stockholm(path, min_rows)
    if fmt == "clustal":
        return read_clustal(path, min_rows)
    from sciml.errors import ConfigError

    raise ConfigError("format", f"unknown alignment format {fmt!r}; valid: {', '.join(FORMATS)}")


def _balanced_codes(X: Any) -> Any:
    """(L, Q) per-column +-1 code of each state, splitting the column's state counts into two near-equal halves.

    Greedy number partitioning (largest count first into the lighter half): two rows that
    agree at a column necessarily share its code, so the code identity bounds the true one.
    """
    import numpy as np

    N, L = X.shape
    counts = np.zeros((L, Q), dtype=np.int64)
    np.add.at(counts, (np.broadcast_to(np.arange(L), (N, L)), X), 1)
    codes = np.ones((L, Q), dtype=np.float32)
    for i in range(L):
        mass = [0, 0]
        for a in np.argsort(-counts[i], kind="stable"):
            k = 0 if mass[0] <= mass[1] else 1
            mass[k] += counts[i, a]
            codes[i, a] = 1.0 if k == 0 else -1.0
    return codes


def sequence_weights(X: Any, threshold: float = 0.8, device: str = "cpu", chunk: int = 1024) -> Any:
    """Weight ``1 / #{rows with identity >= threshold}`` (itself included), float32 (N,) tensor.

    Identity = fraction of the L aligned columns with the same state (gaps count, as in
    GREMLIN/CCMpred). Exact, but computed in two stages because the direct one-hot
    matmul costs N^2 * L * q flops (78 s for 15,567 x 222 rows on one core):

    1. an upper bound from a per-column binary (+-1) recoding of the states, one (N x L)
       matmul over the upper triangle of row blocks (q = 21 times fewer flops than one-hot);
    2. the exact identity, by comparing the states, only for the candidate pairs whose
       bound reaches the threshold (a few per row in real alignments). A row block with
       many candidates (e.g. near-identical rows) falls back to the exact one-hot matmul.
    """
    import math

    import numpy as np
    import torch
    import torch.nn.functional as F

    Xn = np.ascontiguousarray(np.asarray(X), dtype=np.uint8)
    N, L = Xn.shape
    need = math.ceil(threshold * L - 1e-3)  # identical columns needed (integer)
    Xt = torch.as_tensor(Xn, device=device).long()
    counts = torch.zeros(N, dtype=torch.int64, device=device)
    if need <= 0:
        counts[:] = N
        return 1.0 / counts.float()
    codes = torch.as_tensor(_balanced_codes(Xn), device=device)
    Z = codes[torch.arange(L, device=device)[None, :], Xt]  # (N, L) +-1
    bound = 2 * need - L  # code identity (L + Z.Z')/2 >= need  <=>  Z.Z' >= 2 need - L
    for s in range(0, N, chunk):
        e = min(s + chunk, N)
        S = Z[s:e] @ Z[s:].T  # (B, N - s): rows s..e against rows s..N (upper triangle of blocks)
        r, c = (S > bound - 0.5).nonzero(as_tuple=True)
        if len(r) > 0.05 * S.numel():
            oh_r = F.one_hot(Xt[s:e], Q).reshape(e - s, L * Q).float()
            oh_c = F.one_hot(Xt[s:], Q).reshape(N - s, L * Q).float()
            r, c = ((oh_r @ oh_c.T) > need - 0.5).nonzero(as_tuple=True)
        else:
            keep = torch.zeros(len(r), dtype=torch.bool, device=device)
            step = max(1, (1 << 22) // L)
            for k in range(0, len(r), step):
                keep[k:k + step] = (Xt[s + r[k:k + step]] == Xt[s + c[k:k + step]]).sum(1) >= need
            r, c = r[keep], c[keep]
        # pairs inside the diagonal block appear in both orders; pairs beyond it once each way
        counts += torch.bincount(s + r, minlength=N)
        beyond = c >= e - s
        counts += torch.bincount(s + c[beyond], minlength=N)
    return 1.0 / counts.clamp(min=1).float()
