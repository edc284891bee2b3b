"""``sciml materials``: prepare | train | section | predict | shard | gather (standard library only at import).

Each handler parses its arguments and calls one step of :mod:`sciml.materials.steps`.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``materials`` command group."""
    from sciml.cli import add_step_parser

    parser = subparsers.add_parser("materials", help="crystal GNNs: graphs, training, Matbench CV, screening")
    sub = parser.add_subparsers(dest="materials_cmd", metavar="STEP", required=True)

    p = add_step_parser(sub, "prepare", "read + validate the dataset, build and cache graphs, write the quarantine",
                        out_dir="folder for summary.json, quarantine.csv, provenance.json", threads=True)
    p.add_argument("--cache-dir", default=None, help="graph cache folder (default: <out-dir>/cache)")
    p.set_defaults(func=_prepare)

    p = add_step_parser(sub, "train", "train and test one cross-validation fold",
                        out_dir="fold output folder (metrics.json, predictions.csv, model.pt/json, logs/)",
                        threads=True)
    p.add_argument("--fold", type=int, required=True, help="fold index (0-based)")
    p.add_argument("--checkpoint-dir", required=True, help="Lightning checkpoints (keep outside Snakemake outputs)")
    p.add_argument("--cache-dir", default=None, help="graph cache folder shared with 'prepare'")
    p.set_defaults(func=_train)

    p = add_step_parser(sub, "section", "aggregate folds: metrics, leaderboard, figures, report section",
                        data_root=False,
                        out_dir="folder for section.json, metrics.json, predictions.csv, figures, provenance.json")
    p.add_argument("--prepared-dir", required=True, help="folder written by 'prepare' (summary.json)")
    p.add_argument("--fold-dirs", nargs="+", required=True, help="fold folders written by 'train'")
    p.set_defaults(func=_section)

    p = add_step_parser(sub, "predict", "score structures (CSV, Matbench JSON, extxyz, folder) with a trained model, "
                        "streaming in batches",
                        data_root=False,
                        out_dir="folder for predictions.csv|parquet, skipped.csv, provenance.json", threads=True)
    p.add_argument("--model-dir", required=True, help="folder with model.pt + model.json (a fold folder from 'train')")
    p.add_argument("--input", required=True,
                   help="CSV[.gz] with a structure column, Matbench JSON[.gz], extended XYZ / ASE file, or folder of CIF/POSCAR")
    p.add_argument("--input-format", choices=("auto", "csv", "matbench_json", "folder", "ase"), default="auto",
                   help="reader of --input (default: from the name)")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="predictions file format")
    p.add_argument("--device", default="auto", help="auto (a GPU when torch sees one), cpu, cuda, cuda:N")
    p.add_argument("--structure-column", default="structure", help="CSV column with the structure")
    p.add_argument("--id-column", default=None,
                   help="where the ids are: the CSV column (default: its 'id' column if it has one, else row<N>); "
                        "for extxyz/ASE input the frame's info "
                        "key (default: id, else frame<N>); a folder's ids are its file names (option ignored)")
    p.add_argument("--batch-size", type=int, default=None, help="structures per batch (default: config predict.batch_size)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_predict)

    p = add_step_parser(sub, "shard", "split a screening input set (CSV, Matbench JSON, extxyz, folder) into shard "
                        "files (one predict job each)",
                        data_root=False, out_dir="folder for shard_<k>.csv.gz, shards.json, provenance.json")
    p.add_argument("--input", required=True,
                   help="CSV[.gz] with a structure column, Matbench JSON[.gz], extended XYZ / ASE file, "
                        "or folder of CIF/POSCAR")
    p.add_argument("--n-shards", type=int, default=None, help="number of shards (default: config screening.n_shards)")
    p.add_argument("--structures-per-shard", type=int, default=None,
                   help="consecutive records per shard (default: config screening.structures_per_shard)")
    p.add_argument("--structure-column", default=None, help="CSV column with the structure (default: config)")
    p.add_argument("--id-column", default=None,
                   help="CSV column with ids (default: config; else row<N>); for extxyz/ASE input the frame's info "
                        "key (default: id, else frame<N>); a folder's ids are its file names")
    p.set_defaults(func=_shard)

    p = add_step_parser(sub, "gather", "rank the scored shards: one table, top-k, histogram, report section",
                        data_root=False,
                        out_dir="folder for ranked.csv|parquet, top_k.csv, skipped.csv, histogram.png, section.json")
    p.add_argument("--shard-dirs", nargs="+", required=True, help="predict output folders, one per shard")
    p.add_argument("--manifest", default=None, help="shards.json written by 'shard' (checks every shard's count)")
    p.add_argument("--order", choices=("descending", "ascending"), default=None, help="ranking order (default: config)")
    p.add_argument("--top-k", type=int, default=None, help="top-k size (default: config screening.top_k)")
    p.add_argument("--format", choices=("csv", "parquet"), default=None, help="predictions/ranked file format")
    p.set_defaults(func=_gather)


def _prepare(args: argparse.Namespace) -> int:
    from sciml.cli import config_section
    from sciml.materials.steps import prepare

    summary = prepare(config_section(args, "materials"), args.data_root, args.out_dir, args.cache_dir, args.threads)
    print(f"materials prepare: {summary['n_kept']} records kept, {summary['n_quarantined']} quarantined, "
          f"{summary['n_records_with_parser_warnings']} with structure-parser warnings")
    return 0


def _train(args: argparse.Namespace) -> int:
    from sciml.cli import config_section
    from sciml.materials.metrics import headline
    from sciml.materials.steps import train

    m = train(config_section(args, "materials"), args.fold, args.data_root, args.out_dir, args.checkpoint_dir,
              args.cache_dir, args.threads)
    if m:  # empty on a non-zero DDP rank
        print(f"materials train fold {args.fold}: test {headline(m)}")
    return 0


def _section(args: argparse.Namespace) -> int:
    from sciml.cli import config_section
    from sciml.materials.metrics import headline
    from sciml.materials.steps import section

    m = section(config_section(args, "materials"), args.prepared_dir, args.fold_dirs, args.out_dir)
    print(f"materials section: {headline(m, 'mean ')}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from sciml.cli import config_section
    from sciml.materials.steps import predict

    stats = predict(
        config_section(args, "materials"), args.model_dir, args.input, args.out_dir, fmt=args.format,
        batch_size=args.batch_size, structure_column=args.structure_column, id_column=args.id_column,
        threads=args.threads, progress=not args.no_progress, device=args.device, input_format=args.input_format,
    )
    print(f"materials predict: {stats['n_predicted']} predicted ({stats['prediction_label']}), "
          f"{stats['n_skipped']} skipped "
          f"({stats['structures_per_s']} structures/s on {stats['device']}) -> {stats['predictions_file']}"
          + (f" ({len(stats['warnings'])} warning(s), see above)" if stats.get("warnings") else ""))
    return 0


def _shard(args: argparse.Namespace) -> int:
    from sciml.cli import config_section
    from sciml.materials.steps import shard

    m = shard(config_section(args, "materials"), args.input, args.out_dir, n_shards=args.n_shards,
              structures_per_shard=args.structures_per_shard, structure_column=args.structure_column,
              id_column=args.id_column)
    print(f"materials shard: {m['n_structures']} structures in {m['n_shards']} shards -> {args.out_dir}")
    return 0


def _gather(args: argparse.Namespace) -> int:
    from sciml.cli import config_section
    from sciml.materials.steps import gather

    s = gather(config_section(args, "materials"), args.shard_dirs, args.out_dir, manifest=args.manifest,
               order=args.order, top_k=args.top_k, fmt=args.format)
    print(f"materials gather: {s['n_predicted']} ranked, {s['n_skipped']} skipped in {s['n_shards']} shards "
          f"-> {args.out_dir}")
    return 0
