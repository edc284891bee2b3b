"""The materials pipeline steps, in order (one module each; the rules and the CLI call these):

1. :func:`prepare` (``prepare.py``): read and validate the dataset, build and cache the
   periodic graphs, write ``summary.json`` and ``quarantine.csv``;
2. :func:`train` (``train.py``): train and test one cross-validation fold (or a seed
   ensemble on it): ``metrics.json``, ``predictions.csv``, the saved model, learning curve;
3. :func:`section` (``section.py``): aggregate the folds into Matbench-style scores,
   parity and learning-curve figures and the report section ``section.json``.

Outside the default pipeline:

- :func:`predict` (``predict.py``): screen new structures with a trained fold's model;
- screening at scale (``workflows/rules/screening.smk``): :func:`shard` (``shard.py``) splits
  an input set into shard files, :func:`predict` scores each shard, :func:`gather`
  (``gather.py``) ranks them into one table, top-k, histogram and report section.

Example (a notebook)::

    from sciml.materials.steps import prepare, train, section, predict
"""

from __future__ import annotations

from sciml.materials.steps.gather import gather
from sciml.materials.steps.predict import predict
from sciml.materials.steps.prepare import prepare
from sciml.materials.steps.section import section
from sciml.materials.steps.shard import shard
from sciml.materials.steps.train import train

__all__ = ["prepare", "train", "section", "predict", "shard", "gather"]
