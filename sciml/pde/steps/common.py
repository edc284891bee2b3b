"""What every pde step shares: the problem from the config and the part of the config a
problem's steps depend on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sciml.errors import ConfigError
from sciml.pde.problems import REGISTRY, Problem, get_problem, problem_names


def load_problem(cfg: dict[str, Any], name: str) -> Problem:
    """Problem ``name``: a declared one (``pde.declared``), else from the registry, after
    loading the plugin files (``pde.plugins``) and, for a name still unknown, the installed
    entry points; its parameters from the ``pde`` section. ConfigError for an unknown name (listing
    the registered and declared ones) and for a plugin problem that cannot run
    (:func:`sciml.pde.plugins.check_problem`)."""
    declared = cfg.get("declared") or {}
    from sciml.pde.plugins import check_problem, load_entry_points, load_plugins

    if name in declared:
        from sciml.pde.problems.declared import DeclaredProblem

        check_declared_name(cfg, name)
        return DeclaredProblem(name, declared[name])

    if cfg.get("plugins") or name not in REGISTRY:
        load_plugins(cfg.get("plugins") or [])
        if name not in REGISTRY:
            load_entry_points()
    if name not in REGISTRY:
        valid = sorted(set(problem_names()) | set(declared))
        raise ConfigError("pde.problems", f"unknown problem '{name}' (valid: {', '.join(valid)})")
    stray = [k for k in cfg.get("params") or {} if k not in REGISTRY]
    if stray:  # the schema lets a plugin's name through: a misspelt one must not be ignored
        load_entry_points()
        stray = [k for k in stray if k not in REGISTRY]
    if stray:
        where = (f"a declared problem takes its params under pde.declared.{stray[0]}.params" if stray[0] in declared
                 else f"valid: {', '.join(problem_names())}")
        raise ConfigError(f"pde.params.{stray[0]}", f"no built-in, plugin or entry-point problem of that name ({where})")
    # a plugin's params are free-form in the schema: 1e-3 (a string in YAML 1.1) is still the number
    from sciml.config import number_from_text

    params = {k: number_from_text(v) for k, v in cfg["params"].get(name, {}).items()}
    problem = get_problem(name, params)
    check_problem(problem)  # a plugin problem that cannot run: ConfigError naming its file
    return problem


def check_declared_name(cfg: dict[str, Any], name: str) -> None:
    """Refuse a ``pde.declared`` name that a built-in problem or one of the config's plugin files
    (``pde.plugins``) also defines: one of the two would be used silently (ConfigError)."""
    from sciml.pde.plugins import load_plugins

    builtin = {n for n, cls in REGISTRY.items() if cls.__module__.startswith("sciml.pde.problems")}
    plugin = {cls.name: i for i, p in enumerate(cfg.get("plugins") or []) for cls in load_plugins([p])}
    if name in builtin:
        raise ConfigError(f"pde.declared.{name}", f"'{name}' is a built-in problem's name: give the declared "
                                                  "problem another name")
    if name in plugin:
        raise ConfigError(f"pde.declared.{name}", f"'{name}' is also defined by the plugin "
                                                  f"pde.plugins[{plugin[name]}]: rename one of them")


def problem_lines(cfg: dict[str, Any] | None = None) -> list[str]:
    """One line per problem for ``sciml pde problems``: the built-in ones, then (with ``cfg``) the config's
    declared and plugin problems, each loaded as the steps load it, so a problem that cannot run is refused
    here with its key and file (ConfigError); a declared problem's geometry is built (bad bounds: the
    message ``train`` gives) and its reference file must exist and hold the configured columns (header /
    keys and array shapes only; the loader's own error, ConfigError or DataError); every name in
    ``pde.problems`` must be a problem (the message of the steps for an unknown one)."""
    # the package's own problems (a plugin loaded earlier in this process, e.g. a notebook's, is in REGISTRY too)
    rows = [(name, f"{cls.title}: {cls.equation}  [reference: {cls.reference_file or 'analytic/solver'}]")
            for name, cls in sorted(REGISTRY.items()) if cls.__module__.startswith("sciml.pde.problems")]
    if cfg is not None:
        declared = list(cfg.get("declared") or {})
        rows += [(name, f"{_declared_checked(cfg, name).describe()}  [declared in the config]") for name in declared]
        if cfg.get("plugins"):
            from sciml.pde.plugins import load_plugins

            mine = sorted({cls.name for cls in load_plugins(cfg["plugins"])})  # registers all of the files' problems
            rows += [(name, f"{load_problem(cfg, name).describe()}  [plugin]") for name in mine]
        listed = {name for name, _ in rows}
        for name in cfg.get("problems") or []:
            if name not in listed:
                load_problem(cfg, name)  # an unknown name: the steps' ConfigError
    width = max(16, *(len(name) for name, _ in rows))
    return [f"{name:{width}s} {text}" for name, text in rows]


def _declared_checked(cfg: dict[str, Any], name: str) -> Problem:
    """Declared problem ``name``, its geometry built (the bounds ``train`` refuses) and its reference
    file's columns checked (the header / keys and array shapes only)."""
    problem = load_problem(cfg, name)
    problem.bounds()
    problem.check_reference_columns()
    return problem


def problem_files(cfg: dict[str, Any], name: str) -> list[Path]:
    """Files that define problem ``name`` outside the package (the plugin files that may define it,
    :func:`sciml.pde.workflow.defining_plugins`; none for a built-in problem), for provenance."""
    from sciml.pde.workflow import defining_plugins

    declared = cfg.get("declared") or {}
    return [] if name in declared else [Path(p) for p in defining_plugins(cfg.get("plugins") or [], name)]


def user_files(cfg: dict[str, Any], problem: Problem) -> list[Path]:
    """The user's files a problem's steps depend on, for provenance (``inputs_sha256``): a declared
    problem's reference file, or the plugin files. Shipped reference files are not among them
    (they need the data root, which only solve and evaluate get)."""
    declared = cfg.get("declared") or {}
    if problem.name in declared:
        return problem.reference_inputs()
    return problem_files(cfg, problem.name)


def step_config(cfg: dict[str, Any], problem_name: str, problem: Problem | None = None) -> dict[str, Any]:
    """The part of the ``pde`` section one problem's steps depend on: it keys the training
    checkpoints and is the config recorded in provenance. Deliberately without ``threads``
    (so the key and the recorded config stay those of earlier runs) and without the other
    problems' parameters. A declared problem adds its declaration, a plugin problem the paths
    and sha256 of the plugin files that define it (built-in problems keep the keys of earlier runs), and a
    problem defined anywhere else (a class registered in a notebook cell, an installed entry point) the
    fingerprint of its physics (``problem``, when given: :func:`sciml.pde.saved_model.problem_fingerprint`),
    so that a redefined class retrains instead of resuming the old one's finished checkpoint."""
    out = {"seed": cfg["seed"], "problem": problem_name, "params": cfg["params"].get(problem_name, {}),
           "pinn": cfg["pinn"], "evaluation": cfg["evaluation"]}
    declared = cfg.get("declared") or {}
    if problem_name in declared:
        out["declared"] = declared[problem_name]
    elif problem_files(cfg, problem_name):
        from sciml.io import sha256_file

        # the code of the plugins that define it keys the checkpoints: an edited plugin file retrains its
        # own problems (a built-in problem is defined by none: editing a plugin leaves it alone)
        out["plugins"] = {str(p): (sha256_file(p) if p.is_file() else None) for p in problem_files(cfg, problem_name)}
    elif problem is not None and not type(problem).__module__.startswith("sciml.pde.problems"):
        from sciml.pde.saved_model import problem_fingerprint

        out["problem_fingerprint"] = problem_fingerprint(problem)
    return out


def training_key(scfg: dict[str, Any]) -> dict[str, Any]:
    """What the training checkpoints are keyed by: the step config (:func:`step_config`) without
    ``evaluation``, which training never reads (a new ``timing_repeats`` must not retrain)."""
    return {k: v for k, v in scfg.items() if k != "evaluation"}


def log(msg: str) -> None:
    """Progress line on stdout (the rules redirect it into the step's log)."""
    print(msg, flush=True)


def reference_label(source: str, data_root: str | Path | None) -> str:
    """How metrics and the report name a reference: a file under the data root (or the working folder)
    by its path there (``pde/deepxde/Burgers.npz``), another file by its full path, so two users'
    ``solution.npz`` in different folders are told apart; a source that is no file ("analytic", an in-package
    solver's description) as it is."""
    if source in ("analytic", "solver") or not Path(source).is_file():  # a description (an in-package solve)
        return source
    from sciml.data.manifest import data_root as resolved_root

    path = Path(source).resolve()
    for base in (resolved_root(data_root), Path.cwd()):
        if path.is_relative_to(base.resolve()):
            return path.relative_to(base.resolve()).as_posix()
    return str(path)

