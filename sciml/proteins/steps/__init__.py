"""The proteins pipeline steps, in order (one module each; the rules and the notebook call these):

1. :func:`coevolution` (``coevolution.py``): one family -- read the alignment and structure,
   map them, fit the Potts and mean-field models, score their CASP precisions; writes
   ``scores.npz``, ``metrics.json``, ``timings.json``, CASP RR files into the family folder (a
   family that cannot be used: the reason and the sha256 of each of its files instead).
2. :func:`cross_validate` (``cross_validate.py``): family-held-out cross-validation of the 2D
   residual contact network on the family folders; writes ``metrics.json`` and learning curves.
3. :func:`section` (``section.py``): the report section from the family folders and the CV
   folder (and the predict folders: the skipped targets, and once each the models the targets
   used with their training record); writes ``section.json``, ``contact_maps.png`` and
   ``quarantine.csv``.

Beside them, for proteins nobody has scored:

4. :func:`train_model` (``train_model.py``): the network trained on every scored family,
   saved as ``model.pt`` + ``model.json`` (:mod:`sciml.proteins.saved_model`).
5. :func:`train_sequence_model` (``train_sequence_model.py``): the sequence-only model
   (cgdms chains), saved the same way, for queries without homologues.
6. :func:`predict` (``predict.py``): one target from its alignment (structure optional):
   CASP RR with contact probabilities, the (L, L) array, a map figure, depth, a section;
   a single sequence goes to the sequence-only model.

Each step takes the validated ``proteins`` config section and folders, writes through
:func:`sciml.steps.run_step` (``provenance.json`` beside its outputs) and returns a small
summary dict.
"""

from sciml.proteins.steps.coevolution import coevolution
from sciml.proteins.steps.cross_validate import cross_validate
from sciml.proteins.steps.predict import predict
from sciml.proteins.steps.section import section
from sciml.proteins.steps.train_model import train_model
from sciml.proteins.steps.train_sequence_model import train_sequence_model

__all__ = ["coevolution", "cross_validate", "predict", "section", "train_model", "train_sequence_model"]
