"""``sciml proteins``: coevolution | cross-validate | section (standard library only at import).

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
    r.set_defaults(func=_section)


def _config(args: argparse.Namespace) -> dict[str, Any]:
    from sciml.cli import config_section

    return config_section(args, "proteins")


def _coevolution(args: argparse.Namespace) -> int:
    from sciml.proteins.steps import coevolution

    coevolution(_config(args), args.family, args.out_dir, data_root=args.data_root, threads=args.threads)
    return 0


def _cross_validate(args: argparse.Namespace) -> int:
    from sciml.proteins.steps import cross_validate

    cross_validate(_config(args), args.family_dirs, args.out_dir, args.checkpoint_dir, threads=args.threads)
    return 0


def _section(args: argparse.Namespace) -> int:
    from sciml.proteins.steps import section

    section(_config(args), args.family_dirs, args.out_dir, cv_dir=args.cv_dir)
    return 0
