"""PDE domain: physics-informed neural networks (DeepXDE, PyTorch backend) measured
against reference solutions and classical solvers.

Modules: ``problems`` (registry of PDEs), ``references`` (reference loaders and
masking), ``solvers`` (classical solvers), ``pinn`` (build/train with DeepXDE),
``evaluate`` (relative L2, xarray output), ``timing`` (speed table, break-even),
``plots`` and ``cli``. Nothing heavy is imported at package import.
"""
