"""The pde pipeline steps, in order (one module each; the rules and the notebook call these):

1. :func:`solve` (``solve.py``): the classical solver against the reference, timed over its
   resolution ladder -> ``solver.json``;
2. :func:`train` (``train.py``): the PINN (Adam, RAR rounds, L-BFGS), resumable -> the saved
   model, ``train.json``, ``train_timing.json``, ``loss_history.csv``;
3. :func:`evaluate` (``evaluate.py``): the PINN against the reference and the finest solve,
   and the speed comparison -> ``metrics.json``, ``timing.json``, ``fields.nc``, figures;
4. :func:`section` (``section.py``): the report section of all problems -> ``section.json``.

Beside them, :func:`operator` (``operator.py``): a DeepONet operator surrogate of an
input-function family (data, model chosen on validation inputs, test accuracy, speed table),
and :func:`operator_query`, guarded predictions of a saved operator.

Steps 1-3 run once per problem. Each takes the validated ``pde`` config section, a problem
name and folders, writes through :func:`sciml.steps.run_step` (``provenance.json`` beside
its outputs) and returns a small summary dict.
"""

from sciml.pde.steps.evaluate import evaluate
from sciml.pde.steps.operator import operator, operator_query
from sciml.pde.steps.section import section
from sciml.pde.steps.solve import solve
from sciml.pde.steps.train import train

__all__ = ["solve", "train", "evaluate", "operator", "operator_query", "section"]
