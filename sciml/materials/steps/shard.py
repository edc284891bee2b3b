"""The ``shard`` step of screening: split an input set into shard files, one scoring job each.

Reads the records' structure *text* without parsing it (:func:`~sciml.materials.readers.iter_structure_items`:
a CSV[.gz] column, a Matbench JSON's dicts, an extxyz file's frames, a folder's files) and writes
``shard_<k>.csv.gz`` (columns ``id,structure,sciml_source_line,sciml_source_error``: the record's
1-based line in the input file -- empty for a Matbench JSON or folder input, whose ids locate the
records -- and the reason a record could not be read; gzip level 1: shards are
intermediate files) plus ``shards.json``
(the shard names and their record counts, which ``gather`` checks every shard against).
A fixed ``n_shards`` deals records round-robin (balanced shards in one pass, no count
needed first); ``structures_per_shard`` cuts consecutive runs. Each shard is written to a
temporary file and renamed, and ``shards.json`` comes last, so a killed run leaves no
shard that looks complete.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Any

from sciml.errors import ConfigError
from sciml.io import atomic_path, write_json_atomic
from sciml.steps import run_step

#: The manifest ``shard`` writes and ``gather`` checks.
MANIFEST = "shards.json"
#: ``sciml_source_line`` / ``sciml_source_error``: the record's line in the input file and, for a record
#: that could not be read there, its reason (so a scored shard reports both as an unsharded run would).
SHARD_COLUMNS = ["id", "structure", "sciml_source_line", "sciml_source_error"]


def shard_name(k: int) -> str:
    """File stem of shard ``k`` (``shard_0003``: zero-padded, so names sort in shard order)."""
    return f"shard_{k:04d}"


class _ShardFile:
    """One gzipped shard CSV being written to a temporary path (renamed when closed)."""

    def __init__(self, path: Path):
        self.path = path
        self._ctx = atomic_path(path)
        tmp = self._ctx.__enter__()
        self._fh = io.TextIOWrapper(gzip.open(tmp, "wb", compresslevel=1), encoding="utf-8", newline="")
        self.writer = csv.writer(self._fh, lineterminator="\n")
        self.writer.writerow(SHARD_COLUMNS)
        self.n = 0

    def write(self, rec_id: str, text: str, line: int | None = None, error: str | None = None) -> None:
        self.writer.writerow([rec_id, text, "" if line is None else line, error or ""])
        self.n += 1

    def close(self, ok: bool = True) -> None:
        self._fh.close()
        if ok:
            self._ctx.__exit__(None, None, None)
        else:
            self._ctx.__exit__(RuntimeError, RuntimeError("shard aborted"), None)


def shard(cfg: dict[str, Any], input_path: str | Path, out_dir: str | Path, *, n_shards: int | None = None,
          structures_per_shard: int | None = None, fmt: str | None = None, structure_column: str | None = None,
          id_column: str | None = None) -> dict[str, Any]:
    """Split ``input_path`` into shards in ``out_dir``. Settings default to ``cfg["screening"]``
    (``structures_per_shard`` wins over ``n_shards``). Returns the manifest (also ``shards.json``)."""
    import sys

    from sciml.materials.readers import FOLDER_FILES, ignored_files, iter_structure_items

    scfg = cfg["screening"]
    per_shard = structures_per_shard if structures_per_shard is not None else scfg["structures_per_shard"]
    n_fixed = None if per_shard else int(n_shards or scfg["n_shards"])
    if per_shard is not None and int(per_shard) < 1:
        raise ConfigError("materials.screening.structures_per_shard", f"must be >= 1, got {per_shard}")
    if n_fixed is not None and n_fixed < 1:
        raise ConfigError("materials.screening.n_shards", f"must be >= 1, got {n_fixed}")
    out_dir = Path(out_dir)
    texts = iter_structure_items(input_path, fmt or scfg["input_format"],
                                 structure_column or scfg["structure_column"],
                                 id_column if id_column is not None else scfg["id_column"])
    with run_step("materials.shard", cfg, out_dir, inputs=[input_path]) as step:
        files: list[_ShardFile] = []
        ok = False
        try:
            if n_fixed is not None:
                files = [_ShardFile(step.output(f"{shard_name(k)}.csv.gz")) for k in range(n_fixed)]
                for i, item in enumerate(texts):
                    files[i % n_fixed].write(*item)
            else:
                for i, item in enumerate(texts):
                    if i % int(per_shard) == 0:
                        if files:
                            files[-1].close()
                        files.append(_ShardFile(step.output(f"{shard_name(len(files))}.csv.gz")))
                    files[-1].write(*item)
                if not files:  # an empty input still gives one (empty) shard for the rules to score
                    files.append(_ShardFile(step.output(f"{shard_name(0)}.csv.gz")))
            ok = True
        finally:
            for f in files:
                if not f._fh.closed:
                    f.close(ok)
        ignored = ignored_files(input_path) if Path(input_path).is_dir() else []
        warnings = []
        if ignored:
            warnings.append(f"{len(ignored)} file(s) in {input_path} are not structure files this reader reads "
                            f"({FOLDER_FILES}) and were ignored: {', '.join(ignored[:10])}"
                            + (", ..." if len(ignored) > 10 else ""))
        if sum(f.n for f in files) == 0:
            warnings.append(f"{input_path} holds no structure records: nothing will be screened")
        for w in warnings:
            print(f"materials shard: WARNING: {w}", file=sys.stderr)
        manifest = {
            "input": str(input_path), "n_structures": sum(f.n for f in files), "n_shards": len(files),
            "n_ignored_files": len(ignored), "warnings": warnings,
            "mode": "round_robin" if n_fixed is not None else "consecutive",
            "structures_per_shard": None if n_fixed is not None else int(per_shard),
            "shards": [{"name": f.path.name.removesuffix(".csv.gz"), "file": f.path.name, "n_structures": f.n}
                       for f in files],
        }
        write_json_atomic(step.output(MANIFEST), manifest)
        step.record.extra.update({"n_structures": manifest["n_structures"], "n_shards": manifest["n_shards"]})
    return manifest
