"""Problems from outside the package: plugin files (``pde.plugins``) and installed packages
(entry-point group ``sciml.pde_problems``).

A plugin file is a Python module defining one or more subclasses of
:class:`sciml.pde.problems.base.Problem` with a ``name``; loading it registers them by that
name (:func:`sciml.pde.problems.register`), so ``pde.problems`` can list them. An installed
package registers a class under ``[project.entry-points."sciml.pde_problems"]``. Plugin code
runs with the user's rights: it is the user's own code, named explicitly in their config.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from sciml.errors import ConfigError, DataError
from sciml.pde.problems import REGISTRY, register
from sciml.pde.problems.base import Problem

ENTRY_POINT_GROUP = "sciml.pde_problems"
NAME = re.compile(r"^[a-z_0-9]+$")  # the workflow's problem wildcard
_LOADED: dict[Path, tuple[str, list[type[Problem]]]] = {}  # file -> (its sha256 when imported, its classes)
#: class -> (config key, "plugin <file>" / "entry point ..."): what errors about it name
_SOURCES: dict[type[Problem], tuple[str, str]] = {}


def _check_class(cls: object, where: str, key: str) -> type[Problem]:
    if not (inspect.isclass(cls) and issubclass(cls, Problem) and cls is not Problem):
        raise ConfigError(key, f"{where} is not a subclass of sciml.pde.problems.base.Problem")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not NAME.match(name):
        raise ConfigError(key, f"{where}: class {cls.__name__} needs a name of lowercase letters, digits and _, got {name!r}")
    known = REGISTRY.get(name)
    if known is not None and known is not cls and known.__module__.startswith("sciml.pde.problems"):
        raise ConfigError(key, f"{where}: problem name '{name}' is a built-in problem's")
    return cls


def import_user_file(path: Path, key: str, prefix: str) -> tuple[object, str]:
    """Import the user's Python file ``path`` as a fresh module; returns (module, its name).
    A missing file or an error raised while importing it is a ConfigError naming ``key``."""
    if not path.exists():
        where = "" if path.is_absolute() else f" (a relative path is read from the current folder, {Path.cwd()})"
        raise ConfigError(key, f"plugin {path} not found{where}")
    if not path.is_file() or path.suffix != ".py":
        raise ConfigError(key, f"plugin {path} is not a .py file")
    modname = f"{prefix}_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    # registered as the importlib recipe does, so that inspect.getfile finds the classes' file (the saved
    # model's fingerprint hashes it: an edited plugin must not evaluate a model trained on the old one)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 -- any error in the user's file is reported as such
        sys.modules.pop(modname, None)
        raise ConfigError(key, f"plugin {path} failed to import ({type(exc).__name__}: {exc})") from exc
    return module, modname


def load_plugin_file(path: str | Path, key: str = "pde.plugins") -> list[type[Problem]]:
    """Import the plugin file ``path`` and register its Problem subclasses; returns them. Imported once per
    content: a file edited since (a notebook user changing their problem between cells) is imported again,
    as a fresh process would, instead of training the old class under the new file's checksum."""
    from sciml.io import sha256_file

    path = Path(path).resolve()
    digest = sha256_file(path) if path.is_file() else ""
    if path in _LOADED and _LOADED[path][0] == digest:
        return _LOADED[path][1]
    module, modname = import_user_file(path, key, "sciml_pde_plugin")
    classes = [c for c in vars(module).values()
               if inspect.isclass(c) and issubclass(c, Problem) and c.__module__ == modname and "name" in vars(c)]
    if not classes:
        raise ConfigError(key, f"plugin {path} defines no subclass of Problem with a 'name'")
    for cls in classes:
        register(_check_class(cls, f"plugin {path}", key))
        _SOURCES[cls] = (key, f"plugin {path}")
    _LOADED[path] = (digest, classes)
    return classes


def load_plugins(paths: Sequence[str | Path]) -> list[type[Problem]]:
    """Load every plugin file of ``pde.plugins``; two of them defining one problem name is a ConfigError
    (the later file would silently replace the earlier one's problem)."""
    out: list[type[Problem]] = []
    first: dict[str, tuple[int, str]] = {}
    for i, p in enumerate(paths):
        classes = load_plugin_file(p, f"pde.plugins[{i}]")
        for cls in classes:
            if cls.name in first and first[cls.name][0] != i:
                raise ConfigError(f"pde.plugins[{i}]", f"plugin {p} defines problem '{cls.name}', which plugin "
                                  f"{first[cls.name][1]} (pde.plugins[{first[cls.name][0]}]) defines too: rename one")
            first.setdefault(cls.name, (i, str(p)))
            register(cls)  # this config's file for the name (another config may have loaded another)
        out += classes
    return out


def load_entry_points() -> list[type[Problem]]:
    """Register the problems installed packages declare in the ``sciml.pde_problems`` group."""
    from importlib.metadata import entry_points

    out = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as exc:  # noqa: BLE001 -- a broken third-party package is named, not a crash
            raise ConfigError("pde.problems", f"entry point '{ep.name}' ({ep.value}) of group "
                              f"{ENTRY_POINT_GROUP} failed to load ({type(exc).__name__}: {exc})") from exc
        where = f"entry point '{ep.name}' ({ep.value})"
        out.append(register(_check_class(cls, where, "pde.problems")))
        _SOURCES[cls] = ("pde.problems", where)
    return out


def _overrides(problem: Problem, method: str) -> bool:
    """True when the problem's class writes ``method`` itself (not the base class default)."""
    return getattr(type(problem), method) is not getattr(Problem, method)


def config_key_of(problem: Problem, default: str = "pde.problems") -> str:
    """The config key that brought ``problem`` in: ``pde.plugins[i]`` for a plugin file's problem,
    ``pde.problems`` for an entry point's, ``default`` for a problem of the package."""
    source = _SOURCES.get(type(problem))
    return source[0] if source is not None else default


def check_problem(problem: Problem) -> None:
    """Refuse a plugin / entry-point problem that cannot run, with a ConfigError naming
    ``pde.plugins[i]`` and the file: no physics (neither ``declaration()`` nor ``geometry`` /
    ``pde`` / ``conditions``), no ``bounds()``, ``inputs`` or ``fields`` that disagree with the
    declaration, ``has_solver`` (default True) without solver methods, or no reference at all.
    Problems of the package are not checked."""
    source = _SOURCES.get(type(problem))
    if source is None:
        return
    key, where = source
    what = f"{where}: problem '{problem.name}'"
    try:
        physics = problem.physics()  # a bad declaration() is refused now, not at train
    except ConfigError as exc:
        raise ConfigError(key, f"{what}, declaration(): {exc}") from None
    if physics is None:
        needed = ("geometry", "pde") + (() if _overrides(problem, "output_transform") else ("conditions",))
        missing = [f"{m}()" for m in needed if not _overrides(problem, m)]
        if missing:
            raise ConfigError(key, f"{what} has no physics: define declaration() (the dict form of "
                              f"docs/pde_problems.md) or the methods {', '.join(missing)}")
    else:
        for attr in ("inputs", "fields"):
            mine, declared = tuple(getattr(problem, attr)), tuple(getattr(physics, attr))
            if mine != declared:
                shape = f"{physics.dim}D geometry" + (" and time" if physics.time else ", no time")
                default = " (the default)" if mine == tuple(getattr(Problem, attr)) else ""
                raise ConfigError(key, f"{what} has {attr} = {mine!r}{default} but its declaration() ({shape}) "
                                  f"gives {declared!r}: set {attr} = {declared!r}")
    if physics is None and _overrides(problem, "pde") and not _takes(problem.pde, 1):
        raise ConfigError(key, f"{what}: pde() must take the deepxde module, def pde(self, dde), and return the "
                               "residual function of (x, y)")
    if not _overrides(problem, "bounds"):
        raise ConfigError(key, f"{what} defines no bounds(): (low, high) of each input {list(problem.inputs)}")
    if problem.has_solver:
        missing = [f"{m}()" for m in ("solver_levels", "solve") if not _overrides(problem, m)]
        if missing:
            raise ConfigError(key, f"{what} keeps has_solver = True (the default) but defines no "
                              f"{', '.join(missing)}: write the classical solver, or set has_solver = False")
    if problem.reference_file is not None and not _overrides(problem, "load_reference_file"):
        raise ConfigError(key, f"{what} sets reference_file but defines no load_reference_file()")
    solver_ref = problem.has_solver and _overrides(problem, "solver_grid")
    if _overrides(problem, "analytic_reference"):  # cheap: a malformed one is refused here, not at solve
        try:
            problem.analytic_reference()
        except (DataError, ValueError, TypeError, IndexError, KeyError) as exc:
            raise ConfigError(key, f"{what}: analytic_reference() failed: {exc}") from None
    if not (problem.reference_file is not None or solver_ref
            or any(_overrides(problem, m) for m in ("analytic_reference", "reference"))):
        raise ConfigError(key, f"{what} has no reference to measure accuracy against: define analytic_reference(), "
                          "or reference_file with load_reference_file(), or a classical solver (solver_grid(), "
                          "solver_levels(), solve()); the pipeline evaluates the PINN on the reference's grid")


def _takes(fn: object, n: int) -> bool:
    """True when ``fn`` can be called with ``n`` positional arguments."""
    try:
        inspect.signature(fn).bind(*([None] * n))
    except (TypeError, ValueError):
        return False
    return True


def checked_residual(problem: Problem, dde: object) -> object:
    """``problem.pde(dde)``; for a plugin / entry-point problem checked first: DeepXDE calls the residual
    with (x, y) or (x, y, aux) and silently leaves out one of any other arity (only the conditions would
    be trained), so ``pde`` must take ``dde`` and return such a function (ConfigError naming the file)."""
    source = _SOURCES.get(type(problem))
    if source is None:
        return problem.pde(dde)
    key, where = source
    what = f"{where}: problem '{problem.name}'"
    if not _takes(problem.pde, 1):
        raise ConfigError(key, f"{what}: pde() must take the deepxde module, def pde(self, dde), and return the "
                               "residual function of (x, y)")
    residual = problem.pde(dde)
    if not callable(residual) or not (_takes(residual, 2) or _takes(residual, 3)):
        raise ConfigError(key, f"{what}: pde(dde) must return a function of (x, y) (or (x, y, aux)) giving the "
                               f"residual(s); it returned {residual!r}")
    return residual


def load_operator_family(path: str | Path, key: str = "family.plugin") -> type:
    """The one subclass of :class:`sciml.pde.operator.families.OperatorFamily` a plugin file defines
    (for ``sciml pde operator``'s ``family.kind: plugin``)."""
    from sciml.pde.operator.families import OperatorFamily

    path = Path(path).resolve()
    module, modname = import_user_file(path, key, "sciml_operator_family")
    classes = [c for c in vars(module).values()
               if inspect.isclass(c) and issubclass(c, OperatorFamily) and c.__module__ == modname
               and not inspect.isabstract(c)]
    if len(classes) != 1:
        raise ConfigError(key, f"plugin {path} must define exactly one (non-abstract) subclass of "
                               f"sciml.pde.operator.families.OperatorFamily, found {len(classes)}"
                          + (f" ({', '.join(c.__name__ for c in classes)})" if classes else
                             ": is every abstract method (spec, sample, sensors, input_function, points, solve) defined?"))
    return classes[0]
