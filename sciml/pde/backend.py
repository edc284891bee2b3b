"""DeepXDE with the PyTorch backend, imported quietly.

One place for the backend rule that the PINN and the operator surrogates share. DeepXDE prints a
banner on its first import ("Using backend: pytorch", the other backends, a recommendation of
another one) on stdout, where it lands before every one-line error of a ``sciml pde`` command:
the import is made with stdout captured; the backend is checked here instead.
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any

from sciml.errors import ConfigError


def import_deepxde() -> Any:
    """Import DeepXDE with the PyTorch backend (``DDE_BACKEND`` must be set before the first import)."""
    backend = os.environ.setdefault("DDE_BACKEND", "pytorch")
    if backend != "pytorch":
        raise ConfigError("DDE_BACKEND", f"the pde domain needs DDE_BACKEND=pytorch, got '{backend}'")
    with contextlib.redirect_stdout(io.StringIO()):
        import deepxde as dde

    if dde.backend.backend_name != "pytorch":
        raise ConfigError("DDE_BACKEND", f"DeepXDE was already imported with backend '{dde.backend.backend_name}'")
    return dde


def set_float_quietly(dde: Any, precision: str) -> None:
    """DeepXDE's ``config.set_default_float`` without its line on stdout ("Set the default float type
    to ..."), which would land in every step's output and in a notebook cell."""
    with contextlib.redirect_stdout(io.StringIO()):
        dde.config.set_default_float(precision)


def pin_default_device(accelerator: str, key: str = "accelerator") -> str:
    """Make the device ``accelerator`` resolves to torch's default for new tensors; returns it.

    DeepXDE creates its tensors on torch's default device and switches that to cuda on import
    whenever a GPU is visible, so ``cpu`` on a GPU node has to be pinned here, process-wide (a
    network on the CPU fed inputs on the GPU would fail). Nothing is changed when the default is
    already that device (a CPU run then pays no device-mode overhead per operation).
    """
    import torch

    from sciml.devices import resolve_device

    device = resolve_device(accelerator, key)
    if torch.get_default_device() != torch.device(device):
        torch.set_default_device(device)
    return device
