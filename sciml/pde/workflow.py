"""Helpers of the Snakemake rules of the pde domain (``workflows/rules/pde.smk``).

Kept in the package (standard library only) so that the rule file holds rules alone.
"""

from __future__ import annotations

import os
from typing import Any


def problem_files(config: dict[str, Any], name: str, data_root: str | None = None) -> list[str]:
    """The user's files problem ``name``'s steps read, as the CLI resolves them (a path as
    given: absolute, or relative to the working directory): a declared problem's reference
    file (``pde.declared.<name>.reference.path``), else the plugin files that define it
    (:func:`defining_plugins`) and the reference file such a plugin names (``reference_file``,
    under ``data_root`` as the steps resolve it). Declared as inputs of the rules, so an edited
    file reruns solve, train and evaluate; a built-in problem gets none of the plugin files, so
    editing a plugin reruns only its own problems. Only files that exist are listed: the step
    refuses a missing one with its config key, which says more than Snakemake's missing-input error."""
    pde = config["pde"]
    declared = pde.get("declared") or {}
    if name in declared:
        ref = declared[name].get("reference") or {}
        paths = [ref.get("path")] if isinstance(ref, dict) else []
    else:
        paths = []
        for plugin in defining_plugins(pde.get("plugins") or [], name):
            paths.append(plugin)
            found = plugin_declarations(plugin)
            if found is not None and name in found[0]:
                paths += [_under_data_root(rel, data_root) for rel in found[1]]
    return [p for p in paths if isinstance(p, str) and p and os.path.isfile(p)]


#: Keys of the ``pde`` section that name problems; :func:`problem_section` cuts them to one problem.
PROBLEM_KEYS = ("problems", "params", "declared", "plugins")


def problem_section(section: dict[str, Any], name: str, without: tuple[str, ...] = ()) -> dict[str, Any]:
    """The ``pde`` section as problem ``name``'s solve, train and evaluate jobs get it (``--config-json``):
    ``problems`` cut to ``[name]``, ``declared`` to its own declaration, ``plugins`` to the files that may
    define it (:func:`defining_plugins`), ``params`` without the entries of the other problems the config
    runs, declares, or a plugin names and without those of built-in problems (entries nobody defines stay,
    so the step still refuses a misspelt name), no ``operators`` (their own jobs read them), and no key of
    ``without``. Adding a problem or an operator, or editing another problem, then reruns none of this
    problem's jobs (the steps key checkpoints and provenance by the same part, ``steps.common.step_config``)."""
    declared = section.get("declared") or {}
    plugins = section.get("plugins") or []
    named_by_plugins = {n for p in plugins if isinstance(p, str) for n in (plugin_declarations(p) or ((), ()))[0]}
    others = (set(section.get("problems") or []) | set(declared) | named_by_plugins | _built_in_names()) - {name}
    out = {k: v for k, v in section.items() if k not in PROBLEM_KEYS and k != "operators" and k not in without}
    out["problems"] = [name]
    out["params"] = {k: v for k, v in (section.get("params") or {}).items() if k not in others}
    if name in declared:
        out["declared"] = {name: declared[name]}
    out["plugins"] = defining_plugins(plugins, name)
    return out


def _built_in_names() -> set[str]:
    """The built-in problems' names: the keys of ``params`` in the pde schema (one per built-in problem)."""
    from sciml.config import schema_for

    return set(schema_for("pde")["properties"]["params"].get("properties", {}))


def defining_plugins(plugins: list[str], name: str) -> list[str]:
    """The plugin files that may define problem ``name``: those whose classes name it (``name = "..."``),
    and, to be safe, those whose names cannot be read without importing them (no literal ``name``, or a
    file that does not parse). A built-in problem's name is in none of them."""
    out = []
    for plugin in plugins:
        found = plugin_declarations(plugin) if isinstance(plugin, str) else None
        if found is None or not found[0] or name in found[0]:
            out.append(plugin)
    return out


def plugin_declarations(path: str) -> tuple[list[str], list[str]] | None:
    """(problem names, reference files) a plugin file gives as literal class attributes, ``name = "..."``
    and ``reference_file = "..."``, read with ``ast`` (the plugin is not imported to build the workflow);
    None when the file cannot be read or parsed. A value computed at run time is not seen."""
    import ast

    try:
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), filename=path)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    names, references = [], []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
            value = getattr(stmt, "value", None)
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
                continue
            for target in targets:
                if isinstance(target, ast.Name) and target.id == "name":
                    names.append(value.value)
                elif isinstance(target, ast.Name) and target.id == "reference_file":
                    references.append(value.value)
    return names, references


def _under_data_root(relative: str, data_root: str | None) -> str:
    """``relative`` under the data root the steps use (``data_root``, else ``$SCIML_DATA_ROOT``, else data/)."""
    from sciml.data.manifest import data_root as resolve_root

    return os.path.join(str(resolve_root(data_root)), relative)


def operator_files(path: str) -> list[str]:
    """The files an operator config (``pde.operators``) makes its job read besides itself: the family's
    plugin file (``family.plugin`` of ``kind: plugin``, as the CLI resolves it), when it exists, so an
    edited solver reruns the job (its dataset is regenerated: the plugin's sha256 keys it)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            cfg = yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []  # the step names the fault
    family = cfg.get("family") if isinstance(cfg, dict) else None
    plugin = family.get("plugin") if isinstance(family, dict) and family.get("kind") == "plugin" else None
    return [plugin] if isinstance(plugin, str) and os.path.isfile(plugin) else []


def operator_configs(config: dict[str, Any]) -> dict[str, str]:
    """Operator name (its config file's name without the suffix, the folder of its job) -> config file, for
    ``pde.operators``. Two files of one name (``a/op.yaml``, ``b/op.yaml``) would share a folder, and one
    of them would silently never run: a ValueError naming both (Snakemake shows it when it reads the rules)."""
    out: dict[str, str] = {}
    for i, path in enumerate(config["pde"].get("operators", []) or []):
        if not os.path.isfile(path):  # Snakemake's missing-input error would name no key
            raise ValueError(f"pde.operators[{i}]: {path!r} not found (a relative path is read from the working "
                             f"directory, {os.getcwd()})")
        name = os.path.splitext(os.path.basename(path))[0]
        if name in out:
            raise ValueError(f"pde.operators: {out[name]!r} and {path!r} have one name, {name!r}, and would share "
                             f"the folder operator/{name}: rename one of the files")
        out[name] = path
    return out
