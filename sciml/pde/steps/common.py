"""What every pde step shares: the problem from the config and the part of the config a
problem's steps depend on."""

from __future__ import annotations

from typing import Any

from sciml.pde.problems import Problem, get_problem


def load_problem(cfg: dict[str, Any], name: str) -> Problem:
    """The registry problem ``name`` with its parameters from the ``pde`` section (ConfigError if unknown)."""
    return get_problem(name, cfg["params"].get(name, {}))


def step_config(cfg: dict[str, Any], problem_name: str) -> dict[str, Any]:
    """The part of the ``pde`` section one problem's steps depend on: it keys the training
    checkpoints and is the config recorded in provenance. Deliberately without ``threads``
    (so the key and the recorded config stay those of earlier runs) and without the other
    problems' parameters."""
    return {"seed": cfg["seed"], "problem": problem_name, "params": cfg["params"].get(problem_name, {}),
            "pinn": cfg["pinn"], "evaluation": cfg["evaluation"]}


def log(msg: str) -> None:
    """Progress line on stdout (the rules redirect it into the step's log)."""
    print(msg, flush=True)
