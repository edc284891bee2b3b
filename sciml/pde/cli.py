"""``sciml pde``: problems | solve | train | evaluate | operator | operator-query | section
(standard library only at import).

Each handler parses arguments and calls one step of :mod:`sciml.pde.steps`; numpy, torch
and DeepXDE are imported inside the steps (``DDE_BACKEND=pytorch`` is set before DeepXDE loads).
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``pde`` command group."""
    from sciml.cli import add_step_parser

    parser = subparsers.add_parser("pde", help="PINN surrogates vs reference solutions and classical solvers")
    sub = parser.add_subparsers(dest="pde_command", metavar="STEP")

    p = sub.add_parser("problems", help="list the registered problems (with --config: also the config's declared "
                                        "and plugin problems, each loaded and checked)")
    from sciml.cli import add_config_arguments

    add_config_arguments(p)
    p.set_defaults(func=_problems)

    def problem_step(name: str, help: str, out_dir: str, data_root: bool = True) -> argparse.ArgumentParser:
        sp = add_step_parser(sub, name, help, data_root=data_root, out_dir=out_dir, threads=True)
        sp.add_argument("--problem", required=True, help="problem name from the registry (see 'sciml pde problems')")
        return sp

    p = problem_step("solve", "validate the classical solver against the reference and time its resolution ladder",
                     "folder for solver.json and provenance.json")
    p.set_defaults(func=_solve)

    p = problem_step("train", "train the PINN (Adam, RAR rounds and L-BFGS), resuming from the checkpoint dir",
                     "folder for model.pt/model.json, train.json, train_timing.json, loss_history.csv", data_root=False)
    p.add_argument("--checkpoint-dir", required=True, help="base folder for checkpoints (outside the step outputs)")
    p.set_defaults(func=_train)

    p = problem_step("evaluate", "PINN accuracy on the reference grid, netCDF fields, plots and speed table",
                     "folder for metrics.json, timing.json, fields.nc, fields.png, loss.png")
    p.add_argument("--model-dir", required=True, help="output folder of 'pde train'")
    p.add_argument("--solver-dir", required=True, help="output folder of 'pde solve'")
    p.set_defaults(func=_evaluate)

    p = add_step_parser(sub, "operator", "operator surrogate (DeepONet) of an input-function family: data, "
                        "model chosen on validation inputs, test accuracy, speed table", config=False,
                        data_root=False, threads=True,
                        out_dir="folder for dataset.npz/.json, model/, selection.json, metrics.json, timing.json")
    p.add_argument("--config", dest="config_file", required=True,
                   help="operator YAML (schema sciml/schemas/pde_operator.schema.yaml)")
    p.set_defaults(func=_operator)

    p = sub.add_parser("operator-query", help="predict with a saved operator; inputs outside the training "
                                              "range are flagged (out_of_range), a wrong shape is an error")
    p.add_argument("--model-dir", required=True, help="the model/ folder of 'pde operator'")
    p.add_argument("--inputs", required=True, help=".npy (n, sensors) or .npz with key 'inputs'")
    p.add_argument("--out", required=True, help="output .npz with u (n, q), points (q, d), out_of_range (n,)")
    p.add_argument("--accelerator", default="auto", choices=["auto", "cpu", "cuda"],
                   help="device (auto: cuda if available)")
    p.set_defaults(func=_operator_query)

    p = add_step_parser(sub, "section", "write the report section from evaluated problems", data_root=False,
                        out_dir="folder for section.json and provenance.json")
    p.add_argument("--evaluate-dirs", nargs="+", required=True, help="output folders of 'pde evaluate', one per problem")
    p.add_argument("--operator-dirs", nargs="*", default=[], help="output folders of 'pde operator' (a table each)")
    p.add_argument("--solve-dirs", nargs="+", default=[], help="output folders of 'pde solve', same order (for provenance)")
    p.add_argument("--train-dirs", nargs="+", default=[], help="output folders of 'pde train', same order (for provenance)")
    p.set_defaults(func=_section)


def _problems(args: argparse.Namespace) -> int:
    from sciml.cli import config_section
    from sciml.pde.steps.common import problem_lines

    given = args.config_json is not None or args.config_file is not None
    for line in problem_lines(config_section(args, "pde") if given else None):
        print(line)
    return 0


def _solve(args: argparse.Namespace) -> int:
    from sciml.cli import config_section
    from sciml.pde.steps import solve

    solve(config_section(args, "pde"), args.problem, args.out_dir, data_root=args.data_root, threads=args.threads)
    return 0


def _train(args: argparse.Namespace) -> int:
    from sciml.cli import config_section
    from sciml.pde.steps import train

    train(config_section(args, "pde"), args.problem, args.out_dir, checkpoint_dir=args.checkpoint_dir,
          threads=args.threads)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from sciml.cli import config_section
    from sciml.pde.steps import evaluate

    evaluate(config_section(args, "pde"), args.problem, args.out_dir, model_dir=args.model_dir,
             solver_dir=args.solver_dir, data_root=args.data_root, threads=args.threads)
    return 0


def _operator(args: argparse.Namespace) -> int:
    from sciml.pde.steps.operator import load_operator_config, operator

    operator(load_operator_config(args.config_file), args.out_dir, threads=args.threads,
             config_file=args.config_file)
    return 0


def _operator_query(args: argparse.Namespace) -> int:
    from sciml.pde.steps.operator import operator_query

    out = operator_query(args.model_dir, args.inputs, args.out, accelerator=args.accelerator)
    print(f"{out['queries']} predictions, {out['out_of_range']} flagged out_of_range -> {out['out']}")
    return 0


def _section(args: argparse.Namespace) -> int:
    from sciml.cli import config_section
    from sciml.pde.steps import section

    out = section(config_section(args, "pde"), args.out_dir, evaluate_dirs=args.evaluate_dirs,
                  solve_dirs=args.solve_dirs, train_dirs=args.train_dirs, operator_dirs=args.operator_dirs)
    print(f"pde section: {len(out['problems'])} problems, {out['warnings']} warnings -> {out['section']}")
    return 0
