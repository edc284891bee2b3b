"""sciml: raw scientific data -> trained deep-learning models -> reproducible reports.

Subpackages: ``materials`` (crystal GNNs), ``pde`` (PINN surrogates), ``proteins``
(contact prediction). Shared modules: ``errors``, ``io``, ``provenance``, ``config``,
``data`` (manifest + data root), ``training`` (Lightning plumbing), ``report``.
Importing ``sciml`` imports nothing heavy.
"""

__version__ = "0.1.0"
