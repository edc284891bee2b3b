"""The materials pipeline steps, in order (one module each; the rules and the CLI call these):

1. :func:`prepare` (``prepare.py``): read and validate the dataset, build and cache the
   periodic graphs, write ``summary.json`` and ``quarantine.csv``;
2. :func:`train` (``train.py``): train and test one cross-validation fold (or a seed
   ensemble on it): ``metrics.json``, ``predictions.csv``, the saved model, learning curve;
3. :func:`section` (``section.py``): aggregate the folds into Matbench-style scores,
   parity and learning-curve figures and the report section ``section.json``.

Outside the default pipeline:

- :func:`predict` (``predict.py``): screen new structures with a trained fold's model.

Example (a notebook)::

    from sciml.materials.steps import prepare, train, section, predict
"""

from __future__ import annotations

from sciml.materials.steps.predict import predict
from sciml.materials.steps.prepare import prepare
from sciml.materials.steps.section import section
from sciml.materials.steps.train import train

__all__ = ["prepare", "train", "section", "predict"]
