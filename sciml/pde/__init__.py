"""PDE domain: physics-informed neural networks (DeepXDE, PyTorch backend) measured
against reference solutions and classical solvers.

Layers: ``references`` (reference loaders and masking) and ``problems`` (one file per PDE
on a base class: physics, reference data, solver, targets) -> ``solvers`` (classical
solvers) and ``pinn`` (build/train with DeepXDE; ``saved_model`` owns the saved format) ->
``accuracy`` (relative L2), ``fields`` (xarray/netCDF), ``timing`` (speed table,
break-even), ``plots`` -> ``steps`` (solve, train, evaluate, section) -> ``cli``.
Nothing heavy is imported at package import.
"""
