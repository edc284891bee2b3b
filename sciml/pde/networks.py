"""PINN network architectures beyond DeepXDE's plain FNN (``pinn.network``, ``pinn.fourier_features``,
``pinn.weight_factorization``).

- random Fourier feature embedding (Tancik et al. 2020; Wang, Wang & Perdikaris 2021):
  the inputs x (n, d) become [cos(x B), sin(x B)] (n, 2m), with B (d, m) drawn once from
  N(0, sigma^2) and kept as a buffer, so it is saved with the weights;
- the modified MLP (Wang, Teng & Perdikaris 2021): two encoders U = act(x W_u), V = act(x W_v)
  and hidden layers H <- Z * U + (1 - Z) * V with Z = act(H W_k);
- random weight factorisation (Wang et al. 2022): every dense layer's weight is
  W = diag(exp(s)) V with trainable s ~ N(mean, std) per output neuron.

Written beside DeepXDE because its PyTorch backend has none of the three (its MsFFN and
modified-MLP variants exist only for TensorFlow). :class:`PINNNet` subclasses DeepXDE's
``NN`` so its feature/output transform hooks, ``Model`` and checkpoints work unchanged.
"""

from __future__ import annotations

from typing import Any

import torch

from sciml.errors import ConfigError
from sciml.pde.pinn import import_deepxde

# This module imports torch and DeepXDE: pinn.py imports it lazily, inside build_pinn.
dde = import_deepxde()


class FactorizedLinear(torch.nn.Module):
    """Dense layer with weight ``exp(s)[:, None] * V`` (random weight factorisation).

    Initialised so that the product equals a Glorot-normal weight W0: s ~ N(mean, std),
    V = W0 / exp(s). Input (n, in) -> output (n, out).
    """

    def __init__(self, n_in: int, n_out: int, mean: float, std: float, dtype: Any) -> None:
        super().__init__()
        w0 = torch.empty(n_out, n_in, dtype=dtype)
        torch.nn.init.xavier_normal_(w0)
        s = mean + std * torch.randn(n_out, dtype=dtype)
        self.s = torch.nn.Parameter(s)
        self.v = torch.nn.Parameter(w0 / torch.exp(s)[:, None])
        self.bias = torch.nn.Parameter(torch.zeros(n_out, dtype=dtype))

    def forward(self, x: Any) -> Any:
        return torch.nn.functional.linear(x, torch.exp(self.s)[:, None] * self.v, self.bias)


def dense(n_in: int, n_out: int, rwf: dict[str, Any] | None, dtype: Any) -> Any:
    """A Glorot-normal dense layer (zero bias), factorised when ``rwf`` is given."""
    if rwf:
        return FactorizedLinear(n_in, n_out, float(rwf["mean"]), float(rwf["std"]), dtype)
    layer = torch.nn.Linear(n_in, n_out, dtype=dtype)
    torch.nn.init.xavier_normal_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    return layer


class PINNNet(dde.nn.NN):
    """DeepXDE-compatible network: [Fourier features] -> FNN or modified MLP, optional RWF layers.

    ``n_in`` inputs (after DeepXDE's feature transform), ``n_out`` outputs; ``width`` x ``depth``
    hidden layers; ``activation`` a DeepXDE activation name.
    """

    def __init__(self, n_in: int, n_out: int, width: int, depth: int, activation: str, kind: str = "fnn",
                 fourier: dict[str, Any] | None = None, rwf: dict[str, Any] | None = None) -> None:
        super().__init__()
        if kind not in ("fnn", "modified_mlp"):
            raise ConfigError("pde.pinn.network", f"unknown network '{kind}' (fnn or modified_mlp)")
        dtype = dde.config.real(torch)
        self.kind = kind
        self.activation = dde.nn.activations.get(activation)
        n_features = n_in
        if fourier and int(fourier.get("features", 0)) > 0:
            m = int(fourier["features"])
            self.register_buffer("fourier_b", float(fourier["sigma"]) * torch.randn(n_in, m, dtype=dtype))
            n_features = 2 * m
        else:
            self.fourier_b = None
        if kind == "modified_mlp":
            self.encoder_u = dense(n_features, width, rwf, dtype)
            self.encoder_v = dense(n_features, width, rwf, dtype)
        sizes = [n_features] + [width] * depth
        self.hidden = torch.nn.ModuleList(dense(a, b, rwf, dtype) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = dense(width, n_out, rwf, dtype)

    def embed(self, x: Any) -> Any:
        """Random Fourier features of ``x`` (n, d) -> (n, 2m), or ``x`` unchanged when off."""
        if self.fourier_b is None:
            return x
        z = x @ self.fourier_b
        return torch.cat([torch.cos(z), torch.sin(z)], dim=1)

    def forward(self, inputs: Any) -> Any:
        x = inputs
        if self._input_transform is not None:
            x = self._input_transform(x)
        x = self.embed(x)
        if self.kind == "modified_mlp":
            u, v = self.activation(self.encoder_u(x)), self.activation(self.encoder_v(x))
            h = x
            for layer in self.hidden:
                z = self.activation(layer(h))
                h = z * u + (1.0 - z) * v
        else:
            h = x
            for layer in self.hidden:
                h = self.activation(layer(h))
        y = self.out(h)
        if self._output_transform is not None:
            y = self._output_transform(inputs, y)
        return y


def uses_own_network(cfg: dict[str, Any]) -> bool:
    """True when the ``pinn`` config asks for anything DeepXDE's FNN does not do."""
    ff = cfg.get("fourier_features") or {}
    rwf = cfg.get("weight_factorization") or {}
    return (cfg.get("network", "fnn") != "fnn" or int(ff.get("features", 0)) > 0
            or bool(rwf.get("enabled", False)))


def build_network(cfg: dict[str, Any], n_in: int, n_out: int) -> Any:
    """The network of the ``pinn`` config: DeepXDE's FNN (Glorot normal) when no option of this
    module is set, so plain runs stay identical to earlier versions; :class:`PINNNet` otherwise."""
    if not uses_own_network(cfg):
        return dde.nn.FNN([n_in] + [cfg["width"]] * cfg["depth"] + [n_out], cfg["activation"], "Glorot normal")
    rwf = cfg.get("weight_factorization") or {}
    return PINNNet(n_in, n_out, int(cfg["width"]), int(cfg["depth"]), cfg["activation"],
                   kind=cfg.get("network", "fnn"), fourier=cfg.get("fourier_features"),
                   rwf=rwf if rwf.get("enabled", False) else None)
