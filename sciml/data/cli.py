"""``sciml data``: list, verify and fetch manifest datasets."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    from sciml.cli import add_data_root_argument

    parser = subparsers.add_parser("data", help="list, verify and download datasets")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="list manifest entries: present? (the file exists; its sha256 is not read: "
                                    "'data verify' checks it), where each comes from (download URL, PyPI package, "
                                    "project-made, or what to do by hand)")
    p.add_argument("--verbose", "-v", action="store_true", help="also show licence and how the URL was verified")
    add_data_root_argument(p, with_config=False)
    p.set_defaults(func=_list)
    p = sub.add_parser("verify", help="check sha256 of every manifest entry present under the data root")
    add_data_root_argument(p, with_config=False)
    p.set_defaults(func=_verify)
    p = sub.add_parser("fetch", help="download entries from their official URL (progress on stderr, resumes a "
                                     "partial download, verified by sha256 before it is put in place)")
    p.add_argument("names", nargs="*", help="manifest names (see 'sciml data list')")
    p.add_argument("--all", action="store_true",
                   help="every downloadable entry; with --config, those the config reads; with --domain, that domain's")
    p.add_argument("--config", help="with --all: a config file (e.g. config/benchmarks/X.yaml); also its data_root "
                                    "unless --data-root is given")
    p.add_argument("--domain", choices=("materials", "pde", "proteins"), help="with --all: one domain's entries")
    p.add_argument("--force", action="store_true", help="download even if present")
    p.add_argument("--keep-archives", action="store_true",
                   help="keep downloaded archives (PyPI packages, repository snapshots) under <data root>/.downloads")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_data_root_argument(p)
    p.set_defaults(func=_fetch)


def _where(entry) -> str:
    member = f" [member {entry.archive_member}]" if entry.archive_member else ""
    if entry.members:
        member = f" [folder from {len(entry.members)} archive member(s)]"
    if entry.origin == "pypi":
        return f"PyPI {entry.pypi}: {entry.pypi_path} (pip install {entry.pypi}); url {entry.url}{member}"
    if entry.origin == "project":
        return f"project-made, committed in data/{entry.name}"
    if entry.origin == "manual":
        return f"NO DIRECT DOWNLOAD: {entry.instructions}"
    return f"{entry.url}{member}"


def _list(args: argparse.Namespace) -> int:
    from sciml.data.manifest import data_root, load_manifest

    root = data_root(args.data_root)
    for name, entry in sorted(load_manifest().items()):
        present = "present" if (root / name).exists() else "absent "
        line = f"{present}  {entry.origin:<8}  {name}  {_where(entry)}"
        if args.verbose:
            line += f"  [licence: {entry.licence}] [verified: {entry.verified}]"
        print(line)
    print(f"(present: the file exists under {root}; its sha256 is not read here: 'sciml data verify' checks it)",
          file=sys.stderr)
    return 0


def _verify(args: argparse.Namespace) -> int:
    from sciml.data.manifest import data_root, load_manifest, verify
    from sciml.errors import ChecksumError

    root = data_root(args.data_root)
    bad = 0
    for name, entry in sorted(load_manifest().items()):
        path = root / name
        if not path.exists():
            continue
        try:
            verify(path, entry)
            print(f"ok        {name}")
        except ChecksumError as exc:
            bad += 1
            print(f"MISMATCH  {exc}")
    return 1 if bad else 0


def _report_line(line: str) -> None:
    """A fetch progress line: failures to stderr (with the other errors), the rest to stdout."""
    print(line, file=sys.stderr if line.startswith("FAILED") else sys.stdout)


def _fetch(args: argparse.Namespace) -> int:
    from sciml.data.fetch import downloadable_names, fetch_many, names_for_config
    from sciml.errors import ConfigError

    if args.all and args.names:
        raise ConfigError("names", "give entry names or --all (with --config FILE or --domain D), not both")
    if not args.all and not args.names:
        raise ConfigError("names", "give entry names (see 'sciml data list') or --all")
    if (args.config or args.domain) and not args.all:
        raise ConfigError("--config/--domain", "only select entries together with --all")
    if args.config and args.domain:
        raise ConfigError("--config/--domain", "give one of --config and --domain")
    root = args.data_root
    if args.config:
        from sciml.config import load_yaml

        names = names_for_config(args.config)
        doc = load_yaml(args.config)
        if root is None and isinstance(doc, dict) and doc.get("data_root"):
            root = doc["data_root"]
        print(f"{args.config} reads {len(names)} manifest entr{'y' if len(names) == 1 else 'ies'}", file=sys.stderr)
    elif args.all:
        names = downloadable_names(args.domain)
    else:
        names = list(args.names)
    done, failed = fetch_many(names, root, force=args.force, progress=not args.no_progress,
                              keep_archives=args.keep_archives, log=_report_line)
    if failed:
        print(f"{len(failed)} of {len(names)} entr{'y' if len(names) == 1 else 'ies'} failed "
              f"(see above); {len(done)} in place", file=sys.stderr)
        return 2  # like every input/data error of the CLI (SciMLError)
    return 0
