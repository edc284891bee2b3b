"""The ``sciml`` command line.

Each domain subpackage exposes ``register(subparsers)`` in ``sciml/<domain>/cli.py``;
those modules import only the standard library at top level, and every command
imports torch, Lightning or DeepXDE inside its handler, so ``sciml --help`` is instant.
A handler is ``func(args) -> int | None`` stored with ``set_defaults(func=...)``.
Before it runs, :func:`main` resolves ``args.data_root`` once for every domain
(:func:`resolve_data_root`): ``--data-root``, else the ``data_root`` of the ``--config`` file.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

#: Domain subcommand groups, registered in this order when their module exists.
DOMAIN_MODULES = ("sciml.materials.cli", "sciml.pde.cli", "sciml.proteins.cli")
SHARED_MODULES = ("sciml.report.cli", "sciml.data.cli")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """The config options every pipeline step takes (section JSON or a YAML file)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--config-json", help="this domain's config section as JSON (what the Snakemake rules pass)")
    group.add_argument("--config", dest="config_file", help="YAML file: a whole pipeline config or just this section")


def add_data_root_argument(parser: argparse.ArgumentParser, with_config: bool = True) -> None:
    """``--data-root`` (default: the ``--config`` file's ``data_root`` where the command takes one
    (``with_config``), else $SCIML_DATA_ROOT, else data/)."""
    first = "the data_root of the --config file, else " if with_config else ""
    parser.add_argument("--data-root", default=None,
                        help=f"folder holding the datasets (default: {first}$SCIML_DATA_ROOT, else data/)")


def add_step_parser(sub: Any, name: str, help: str, *, config: bool = True,
                    data_root: bool = True, out_dir: str | None = None,
                    threads: bool = False) -> argparse.ArgumentParser:
    """A pipeline-step subcommand with the shared options.

    ``--config-json``/``--config`` and ``--data-root`` unless switched off; ``--out-dir``
    (required, with ``out_dir`` as its help) when ``out_dir`` is given; ``--threads``
    (default: the section's ``threads`` key) when ``threads``.
    """
    parser = sub.add_parser(name, help=help)
    if config:
        add_config_arguments(parser)
    if data_root:
        add_data_root_argument(parser)
    if out_dir is not None:
        parser.add_argument("--out-dir", required=True, help=out_dir)
    if threads:
        parser.add_argument("--threads", type=int, default=None,
                            help="torch CPU threads (default: the config section's 'threads'; "
                                 "the rules pass what Snakemake granted)")
    return parser


def config_section(args: argparse.Namespace, domain: str) -> dict[str, Any]:
    """The validated config section of ``domain`` from ``--config-json``/``--config``."""
    from sciml.config import domain_section

    return domain_section(domain, getattr(args, "config_json", None), getattr(args, "config_file", None))


def resolve_data_root(args: argparse.Namespace) -> str | None:
    """The data root of a command, the same for every domain: ``--data-root`` when given, else the
    ``data_root`` of a whole pipeline config given with ``--config`` (relative to the working directory,
    as in the workflow), else None (the steps then use $SCIML_DATA_ROOT, else data/)."""
    given = getattr(args, "data_root", None)
    config_file = getattr(args, "config_file", None)
    if given is not None or config_file is None:
        return given
    from sciml.config import load_yaml

    data = load_yaml(config_file)
    if isinstance(data, dict) and data.get("data_root") is not None:
        return str(data["data_root"])
    return None


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every available subcommand group."""
    from sciml import __version__

    parser = argparse.ArgumentParser(
        prog="sciml",
        description="Raw scientific data -> trained deep-learning models -> reproducible reports.",
    )
    parser.add_argument("--version", action="version", version=f"sciml {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for input/config errors")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    for module_name in DOMAIN_MODULES + SHARED_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if module_name == missing or module_name.startswith(missing + "."):
                continue  # domain not built into this install

            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    from sciml.errors import SciMLError

    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0 if args.group is None else 2
    try:
        if hasattr(args, "data_root"):  # the steps that read datasets (add_data_root_argument)
            args.data_root = resolve_data_root(args)
        status = func(args)
    except SciMLError as exc:
        if args.debug:
            raise
        print(f"sciml: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sciml: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
