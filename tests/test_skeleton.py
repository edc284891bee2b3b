"""The one skeleton every domain follows (issue #14): thin CLIs over step functions,
one set of Trainer keys for every Lightning model, shared plumbing beneath the domains."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

from sciml.config import schema_for

PACKAGE = Path(__file__).resolve().parents[1] / "sciml"
DOMAINS = ("materials", "pde", "proteins")
#: A CLI handler parses arguments, calls one step and prints a line: a few statements.
MAX_HANDLER_STATEMENTS = 12
TRAINER_KEYS = {"accelerator", "devices", "strategy", "num_nodes", "precision", "deterministic", "patience"}


def _statements(node: ast.AST) -> int:
    return sum(isinstance(n, ast.stmt) for n in ast.walk(node)) - 1


@pytest.mark.parametrize("domain", DOMAINS)
def test_cli_modules_only_parse_arguments(domain: str) -> None:
    tree = ast.parse((PACKAGE / domain / "cli.py").read_text())
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):  # top level: standard library only
            names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            assert all(n.split(".")[0] in stdlib for n in names), f"{domain}/cli.py imports {names} at top level"
        elif isinstance(node, ast.Assign):
            pytest.fail(f"{domain}/cli.py line {node.lineno}: module-level value (policy belongs in the package)")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            private = [a.name for a in node.names if a.name.startswith("_")]
            assert not private, f"{domain}/cli.py line {node.lineno} imports private names {private}"
        if isinstance(node, ast.FunctionDef) and node.name != "register":
            n = _statements(node)
            assert n <= MAX_HANDLER_STATEMENTS, (
                f"{domain}/cli.py:{node.name} has {n} statements: step logic belongs in sciml/{domain}/steps/")


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_domain_has_a_steps_package_ending_in_section(domain: str) -> None:
    steps = importlib.import_module(f"sciml.{domain}.steps")
    assert steps.__doc__, f"sciml.{domain}.steps needs a docstring listing its steps"
    section = importlib.import_module(f"sciml.{domain}.steps.section")
    assert callable(getattr(section, "section", None)), f"sciml.{domain}.steps.section.section missing"


def test_step_names_mean_one_thing() -> None:
    """'evaluate' is a PDE step only; no domain keeps a 'pipeline' module; the final step is 'section'."""
    from sciml.cli import build_parser

    parser = build_parser()
    groups = {a.dest: a for a in parser._subparsers._group_actions}["group"].choices
    for domain in DOMAINS:
        steps = next(a for a in groups[domain]._actions if getattr(a, "choices", None)).choices
        assert "section" in steps and "report" not in steps, f"{domain}: {sorted(steps)}"
        assert domain == "pde" or "evaluate" not in steps, f"{domain} has an 'evaluate' step"
        assert not (PACKAGE / domain / "pipeline.py").exists()
        assert not (PACKAGE / domain / "evaluate.py").exists()


@pytest.mark.parametrize("section,path", [
    ("materials", ("train",)),
    ("proteins", ("network",)),
    ("proteins", ("sequence_model",)),
])
def test_every_lightning_model_exposes_the_same_trainer_keys(section: str, path: tuple[str, ...]) -> None:
    schema = schema_for(section)
    for key in path:
        schema = schema["properties"][key]
    props = schema["properties"]
    missing = TRAINER_KEYS - set(props)
    assert not missing, f"{section}.{'.'.join(path)} lacks Trainer keys {sorted(missing)}"
    reference = schema_for("materials")["properties"]["train"]["properties"]
    for key in TRAINER_KEYS:
        assert props[key].get("type") == reference[key].get("type"), key
        assert props[key].get("enum") == reference[key].get("enum"), key


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_domain_has_one_threads_key(domain: str) -> None:
    threads = schema_for(domain)["properties"]["threads"]
    assert threads["type"] == "integer" and threads["default"] >= 1


def test_no_global_matplotlib_backend_switch() -> None:
    for path in PACKAGE.rglob("*.py"):
        assert "matplotlib.use(" not in path.read_text(), f"{path}: use sciml.figures instead"
