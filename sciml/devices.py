"""Which torch device a step runs on, from its ``auto``/``cpu``/``cuda`` setting (torch imported lazily)."""

from __future__ import annotations

from sciml.errors import ConfigError


def resolve_device(device: str, key: str = "--device") -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; other values as given (``cpu``,
    ``cuda``, ``cuda:1``, ``mps``). A GPU asked for but absent is a ConfigError naming ``key``
    (the option or config key the value came from)."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(key, f"{device!r} asked for, but torch sees no CUDA device (use cpu or auto)")
    return device
