"""``sciml proteins``: coevolution | cross-validate | section | train-model | train-sequence-model | predict
(standard library only at import).

Argument parsing only: each handler calls one step of :mod:`sciml.proteins.steps`.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``proteins`` command group."""
    from sciml.cli import add_step_parser

    p = subparsers.add_parser("proteins", help="residue-residue contact prediction (coevolution + trained networks)")
    sub = p.add_subparsers(dest="proteins_cmd", metavar="STEP")

    c = add_step_parser(sub, "coevolution", "one family: read, map to the structure, Potts + mean-field scores, CASP precision",
                        out_dir="family folder (scores.npz, metrics.json, timings.json, RR files, provenance.json)",
                        threads=True)
    c.add_argument("--family", required=True, help="family name from the config's 'families' list")
    c.add_argument("--allow-skip", action="store_true",
                   help="exit 0 when the family is skipped (metrics.json and the section say why), as the workflow "
                        "needs; by default a skipped family exits 3")
    c.set_defaults(func=_coevolution)

    t = add_step_parser(sub, "cross-validate", "family-held-out cross-validation of the 2D residual contact network",
                        data_root=False, threads=True,
                        out_dir="folder for metrics.json, folds/fold<k>/ learning curves and provenance.json")
    t.add_argument("--family-dirs", nargs="+", required=True, help="family folders written by 'coevolution'")
    t.add_argument("--checkpoint-dir", required=True, help="checkpoint base folder (keep outside Snakemake outputs)")
    t.set_defaults(func=_cross_validate)

    r = add_step_parser(sub, "section", "the report section: precision tables, contact maps, skipped families",
                        data_root=False, out_dir="folder for section.json, contact_maps.png, quarantine.csv, provenance.json")
    r.add_argument("--family-dirs", nargs="+", required=True, help="family folders written by 'coevolution'")
    r.add_argument("--cv-dir", default=None, help="folder written by 'cross-validate' (optional)")
    r.add_argument("--target-dirs", nargs="*", default=[],
                   help="target folders written by 'predict' (optional): counted, with the skipped ones, in the section")
    r.set_defaults(func=_section)

    m = add_step_parser(sub, "train-model", "train the contact network on every scored family and save it for 'predict'",
                        data_root=False, threads=True, out_dir="model folder (model.pt, model.json, logs/, provenance.json)")
    m.add_argument("--family-dirs", nargs="+", required=True, help="family folders written by 'coevolution'")
    m.add_argument("--checkpoint-dir", required=True, help="checkpoint base folder (keep outside Snakemake outputs)")
    m.add_argument("--cv-dir", default=None, help="folder written by 'cross-validate' (its means go into model.json)")
    m.set_defaults(func=_train_model)

    s = add_step_parser(sub, "train-sequence-model", "train the sequence-only contact model (cgdms chains) and save it "
                        "for 'predict' on single sequences", threads=True,
                        out_dir="model folder (model.pt, model.json, logs/, provenance.json)")
    s.add_argument("--checkpoint-dir", required=True, help="checkpoint base folder (keep outside Snakemake outputs)")
    s.set_defaults(func=_train_sequence_model)

    q = add_step_parser(sub, "predict", "contact probabilities for one protein from its alignment (structure optional)",
                        threads=True, out_dir="target folder (prediction/<name>.rr|.contacts.npz|.contact_map.png, "
                                              "metrics.json, section.json, provenance.json)")
    q.add_argument("--model-dir", default=None,
                   help="folder written by 'train-model' (the contact network); default, when no --sequence-model-dir "
                        "is given either: the network shipped with sciml (with --scores, the one that refines a "
                        "score matrix from the sequence alone)")
    q.add_argument("--sequence-model-dir", default=None,
                   help="folder written by 'train-sequence-model': predicts single sequences (no homologues)")
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--alignment", help="alignment file (aln, a3m, fasta, a2m, stockholm, clustal)")
    src.add_argument("--target", help="name of an entry of the config's proteins.targets (paths under --data-root, "
                                      "else the data_root of the --config file)")
    q.add_argument("--allow-skip", action="store_true",
                   help="exit 0 when the target is skipped (metrics.json and the section say why), as the workflow "
                        "needs; by default a skipped target exits 3")
    q.add_argument("--format", default=None, type=_alignment_format,
                   help="alignment format: aln, a3m, fasta, a2m, stockholm or clustal (default: from the file name)")
    q.add_argument("--query", default=None, help="id of the alignment row to predict (default: the first row)")
    q.add_argument("--structure", default=None, help="PDB/mmCIF of the query, to score the prediction (optional)")
    q.add_argument("--chain", default=None, help="chain id in --structure (default: the first protein chain)")
    q.add_argument("--min-identity", type=_fraction, default=None,
                   help="sequence identity the --structure must have with the query to be scored against it "
                        "(default: the config's proteins.min_identity, 0.9); lower it for a homologue's structure")
    q.add_argument("--scores", default=None,
                   help="L x L coupling scores from another tool (CCMpred/GREMLIN matrix, 'i j score' or plmc list), "
                        "used instead of the Potts fit")
    q.add_argument("--name", default=None, type=_target_name,
                   help="target name, letters, digits and _ . - (default: the alignment's file name up to the first dot)")
    q.set_defaults(func=_predict)


def _alignment_format(value: str) -> str:
    """``--format``: one of the alignment formats (an argparse error naming the flag otherwise)."""
    from sciml.proteins.alignments import FORMATS

    if value not in FORMATS:
        raise argparse.ArgumentTypeError(f"unknown alignment format {value!r}; valid: {', '.join(FORMATS)}")
    return value


def _fraction(value: str) -> float:
    """``--min-identity``: a number in [0, 1] (an argparse error naming the flag otherwise)."""
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= x <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not a fraction in [0, 1]")
    return x


def _target_name(value: str) -> str:
    """``--name``: a target name the schema allows (it becomes file names and the RR's TARGET)."""
    import re

    from sciml.proteins.steps.predict import target_name_pattern

    if not re.fullmatch(target_name_pattern(), value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid target name: use letters, digits and _ . - only "
                                         f"(pattern {target_name_pattern()})")
    return value


def _config(args: argparse.Namespace) -> dict[str, Any]:
    from sciml.cli import config_section

    return config_section(args, "proteins")


def _coevolution(args: argparse.Namespace) -> int:
    from sciml.proteins.steps import coevolution

    m = coevolution(_config(args), args.family, args.out_dir, data_root=args.data_root, threads=args.threads)
    return 0 if "skipped" not in m or args.allow_skip else 3


def _cross_validate(args: argparse.Namespace) -> int:
    from sciml.proteins.steps import cross_validate

    cross_validate(_config(args), args.family_dirs, args.out_dir, args.checkpoint_dir, threads=args.threads)
    return 0


def _section(args: argparse.Namespace) -> int:
    from sciml.proteins.steps import section

    section(_config(args), args.family_dirs, args.out_dir, cv_dir=args.cv_dir, target_dirs=args.target_dirs)
    return 0


def _train_model(args: argparse.Namespace) -> int:
    from sciml.proteins.steps import train_model

    train_model(_config(args), args.family_dirs, args.out_dir, args.checkpoint_dir, cv_dir=args.cv_dir,
                threads=args.threads)
    return 0


def _train_sequence_model(args: argparse.Namespace) -> int:
    from sciml.proteins.steps import train_sequence_model

    train_sequence_model(_config(args), args.out_dir, args.checkpoint_dir, data_root=args.data_root,
                         threads=args.threads)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from sciml.proteins.steps import predict
    from sciml.proteins.steps.predict import config_target, file_target

    cfg = _config(args)
    target = (config_target(cfg, args.target) if args.target is not None else
              file_target(args.alignment, name=args.name, fmt=args.format, query=args.query, structure=args.structure,
                          chain=args.chain, min_identity=args.min_identity, scores=args.scores))
    m = predict(cfg, args.model_dir, target, args.out_dir, sequence_model_dir=args.sequence_model_dir,
                data_root=args.data_root, threads=args.threads)
    return 0 if "skipped" not in m or args.allow_skip else 3
