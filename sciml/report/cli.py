"""``sciml report``: render section files into one self-contained HTML page."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="build the self-contained HTML report from section files")
    parser.add_argument("sections", nargs="+", help="section JSON files written by the domain pipelines")
    parser.add_argument("--out", required=True, help="HTML file to write (atomically)")
    parser.add_argument("--pipeline-config", help="resolved pipeline config as JSON, shown in the report")
    parser.add_argument("--title", default="sciml run report")
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    import json

    from sciml.errors import ConfigError
    from sciml.io import write_text_atomic
    from sciml.report.html import render_report

    cfg = None
    if args.pipeline_config:
        try:
            cfg = json.loads(args.pipeline_config)
        except json.JSONDecodeError as exc:
            raise ConfigError("--pipeline-config", f"not valid JSON ({exc})") from None
    html = render_report(args.sections, pipeline_config=cfg, title=args.title)
    write_text_atomic(args.out, html)
    print(f"report written to {args.out}")
    return 0
