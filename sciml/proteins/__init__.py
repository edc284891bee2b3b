"""Proteins domain: residue-residue contact prediction from alignments and sequences.

Readers (alignments, structures, cgdms), native contact maps, query-to-structure
mapping, coevolution models (pseudo-likelihood Potts, mean-field), trained
contact networks, CASP precision (``metrics.casp_precision``). ``family`` is the
one-family API; the pipeline steps are in ``steps`` (coevolution -> cross_validate ->
section), which the CLI, the rules and the notebook call. Submodules import heavy
libraries lazily.
"""
