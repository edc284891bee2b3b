"""``sciml materials``: prepare | train | evaluate | predict (standard library only at import)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``materials`` command group."""
    from sciml.cli import add_step_parser

    parser = subparsers.add_parser("materials", help="crystal GNNs: graphs, training, Matbench CV, screening")
    sub = parser.add_subparsers(dest="materials_cmd", metavar="STEP", required=True)

    p = add_step_parser(sub, "prepare", "read + validate the dataset, build and cache graphs, write the quarantine")
    p.add_argument("--out-dir", required=True, help="folder for summary.json, quarantine.csv, provenance.json")
    p.add_argument("--cache-dir", default=None, help="graph cache folder (default: <out-dir>/cache)")
    p.set_defaults(func=_prepare)

    p = add_step_parser(sub, "train", "train and test one cross-validation fold")
    p.add_argument("--fold", type=int, required=True, help="fold index (0-based)")
    p.add_argument("--out-dir", required=True, help="fold output folder (metrics.json, predictions.csv, model.pt/json)")
    p.add_argument("--checkpoint-dir", required=True, help="Lightning checkpoints (keep outside Snakemake outputs)")
    p.add_argument("--cache-dir", default=None, help="graph cache folder shared with 'prepare'")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.set_defaults(func=_train)

    p = add_step_parser(sub, "evaluate", "aggregate folds: metrics, leaderboard, plots, report section", data_root=False)
    p.add_argument("--prepared", required=True, help="summary.json written by 'prepare'")
    p.add_argument("--fold-dirs", nargs="+", required=True,
                   help="fold output folders written by 'train' (or their metrics.json files)")
    p.add_argument("--out-dir", required=True, help="folder for metrics.json, predictions.csv, figures")
    p.add_argument("--section", required=True, help="report section JSON to write")
    p.set_defaults(func=_evaluate)

    p = add_step_parser(sub, "predict", "score structures (CSV or folder) with a trained model, streaming in batches", data_root=False)
    p.add_argument("--model", required=True, help="folder with model.pt + model.json (a fold output folder)")
    p.add_argument("--input", required=True, help="CSV[.gz] with a structure column, Matbench JSON, or folder of CIF/POSCAR")
    p.add_argument("--out", required=True, help="predictions file (.csv or .parquet)")
    p.add_argument("--structure-column", default="structure", help="CSV column with the structure")
    p.add_argument("--id-column", default=None, help="CSV column with ids (default: row<N>)")
    p.add_argument("--batch-size", type=int, default=None, help="structures per batch (default: config predict.batch_size)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_predict)


def _section(args: argparse.Namespace) -> dict:
    from sciml.config import domain_section

    return domain_section("materials", args.config_json, args.config_file)


def _prepare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sciml.materials.pipeline import prepare

    cfg = _section(args)
    out = Path(args.out_dir)
    summary = prepare(cfg, args.data_root, out, Path(args.cache_dir) if args.cache_dir else out / "cache")
    print(f"materials prepare: {summary['n_kept']} records kept, {summary['n_quarantined']} quarantined")
    return 0


def _train(args: argparse.Namespace) -> int:
    from sciml.materials.train import train_fold

    cfg = _section(args)
    m = train_fold(cfg, args.fold, args.data_root, args.out_dir, args.checkpoint_dir, args.cache_dir, args.threads)
    if not m:  # a non-zero DDP rank
        return 0
    print(f"materials train fold {args.fold}: test MAE {m['test']['mae']} {m['unit']}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from sciml.materials.evaluate import evaluate

    cfg = _section(args)
    from pathlib import Path

    dirs = [Path(d).parent if d.endswith(".json") else Path(d) for d in args.fold_dirs]
    summary = evaluate(cfg, args.prepared, dirs, args.out_dir, args.section)
    print(f"materials evaluate: mean MAE {summary['mae_mean']} ± {summary['mae_std']} {summary['unit']}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from sciml.materials.predict import predict_file

    cfg = _section(args)
    stats = predict_file(
        args.model, args.input, args.out, batch_size=args.batch_size or cfg["predict"]["batch_size"],
        structure_column=args.structure_column, id_column=args.id_column, threads=args.threads,
        progress=not args.no_progress,
    )
    print(f"materials predict: {stats['n_predicted']} predicted, {stats['n_skipped']} skipped "
          f"({stats['structures_per_s']} structures/s) -> {args.out}")
    return 0
