"""Benchmark: the sequence-only contact network, trained on the cgdms chains, scored on PSICOV150.

    OMP_NUM_THREADS=1 python benchmarks/proteins/sequence_model.py --config-json '{"threads":1}' \\
        --data-root ../shared/data --out-dir results/bench_proteins_sequence_e3 \\
        --checkpoint-dir results/.checkpoints/bench_seq_e3

``--config-json``/``--config`` give the proteins section (its ``sequence_model`` keys and
``seed``); the data are read through the data resolver (``proteins/cgdms``,
``proteins/psicov150``). Writes ``<out-dir>/metrics.json`` (sorted, rounded), the learning
curves in ``<out-dir>/logs/`` and ``provenance.json``; checkpoints go under
``--checkpoint-dir`` (a rerun resumes). Model and training: :mod:`sciml.proteins.sequence_model`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def run(cfg: dict[str, Any], out_dir: str | Path, checkpoint_dir: str | Path, *,
        data_root: str | Path | None = None, threads: int | None = None) -> dict[str, Any]:
    """Train and score the sequence model; write ``out_dir/metrics.json`` and provenance; return the metrics."""
    from sciml.data import resolve
    from sciml.io import write_json_atomic
    from sciml.proteins.sequence_model import CGDMS, PSICOV150, train_and_evaluate
    from sciml.steps import resolve_threads, run_step
    from sciml.training import is_global_zero_env

    inputs = [resolve(CGDMS, data_root), resolve(PSICOV150, data_root) / "pdb_clean_chainA"]
    with run_step("proteins.sequence_model", cfg, out_dir, inputs=inputs,
                  threads=resolve_threads(threads, cfg)) as step:
        res = train_and_evaluate(cfg, data_root, step.out_dir, checkpoint_dir,
                                 log=lambda m: print(m, file=sys.stderr))
        if is_global_zero_env():  # under DDP every rank trains and scores, rank 0 alone writes
            write_json_atomic(step.output("metrics.json"), res)
    return res


def main(argv: list[str] | None = None) -> int:
    from sciml.cli import add_config_arguments, add_data_root_argument, config_section

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(ap)
    add_data_root_argument(ap)
    ap.add_argument("--out-dir", required=True, help="folder for metrics.json, logs/ and provenance.json")
    ap.add_argument("--checkpoint-dir", required=True, help="checkpoint base folder")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the section's 'threads')")
    args = ap.parse_args(argv)
    res = run(config_section(args, "proteins"), args.out_dir, args.checkpoint_dir, data_root=args.data_root,
              threads=args.threads)
    print(json.dumps(res["psicov150"], sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
