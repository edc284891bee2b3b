"""Registry of PDE problems, defined in code and selected by name from the config.

One file per problem, each a subclass of :class:`~sciml.pde.problems.base.Problem` (its
docstring explains the four parts a problem declares). A new PDE: write
``problems/<name>.py`` with its class, add the class to ``_BUILT_IN`` below and the name
to the ``problems`` enum of ``sciml/schemas/pde.schema.yaml``.
"""

from __future__ import annotations

from typing import Any

from sciml.errors import ConfigError
from sciml.pde.problems.allen_cahn import AllenCahn1D
from sciml.pde.problems.base import Problem
from sciml.pde.problems.burgers import Burgers1D
from sciml.pde.problems.burgers_nu import BurgersParametric
from sciml.pde.problems.heat import Heat1D
from sciml.pde.problems.poisson2d_classic import Poisson2DClassic
from sciml.pde.problems.poisson_lshape import PoissonLShape

__all__ = ["REGISTRY", "Problem", "get_problem", "problem_names", "register",
           "AllenCahn1D", "Burgers1D", "BurgersParametric", "Heat1D", "Poisson2DClassic", "PoissonLShape"]

_BUILT_IN: tuple[type[Problem], ...] = (Heat1D, Burgers1D, BurgersParametric, AllenCahn1D, PoissonLShape,
                                        Poisson2DClassic)

#: problem name -> class
REGISTRY: dict[str, type[Problem]] = {cls.name: cls for cls in _BUILT_IN}


def register(cls: type[Problem]) -> type[Problem]:
    """Add a problem class to :data:`REGISTRY` under ``cls.name`` (usable as a class decorator)."""
    REGISTRY[cls.name] = cls
    return cls


def problem_names() -> list[str]:
    """Names of all registered problems, sorted."""
    return sorted(REGISTRY)


def get_problem(name: str, params: dict[str, Any] | None = None) -> Problem:
    """Instantiate problem ``name`` with ``params``; ConfigError naming valid names if unknown."""
    if name not in REGISTRY:
        raise ConfigError("pde.problems", f"unknown problem '{name}' (valid: {', '.join(problem_names())})")
    return REGISTRY[name](params or {})
