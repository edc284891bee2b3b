"""``sciml data``: list, verify and fetch manifest datasets."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from sciml.cli import add_data_root_argument

    parser = subparsers.add_parser("data", help="list, verify and download datasets")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="list manifest entries (name, licence, URL, present?)")
    add_data_root_argument(p)
    p.set_defaults(func=_list)
    p = sub.add_parser("verify", help="check sha256 of every manifest entry present under the data root")
    add_data_root_argument(p)
    p.set_defaults(func=_verify)
    p = sub.add_parser("fetch", help="download entries from their official URL (verified by sha256)")
    p.add_argument("names", nargs="+")
    p.add_argument("--force", action="store_true", help="download even if present")
    add_data_root_argument(p)
    p.set_defaults(func=_fetch)


def _list(args: argparse.Namespace) -> int:
    from sciml.data.manifest import data_root, load_manifest

    root = data_root(args.data_root)
    for name, entry in sorted(load_manifest().items()):
        present = "present" if (root / name).exists() else "absent "
        print(f"{present}  {name}  [{entry.licence}]  {entry.url}")
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


def _fetch(args: argparse.Namespace) -> int:
    from sciml.data.fetch import fetch

    for name in args.names:
        print(fetch(name, args.data_root, force=args.force))
    return 0
