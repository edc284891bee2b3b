"""Proteins domain: residue-residue contact prediction from alignments and sequences.

Readers (alignments, structures, cgdms), native contact maps, query-to-structure
mapping, coevolution models (pseudo-likelihood Potts, mean-field), trained
contact networks, CASP-style evaluation. Submodules import heavy libraries lazily.
"""
