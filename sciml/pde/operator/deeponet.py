"""DeepONet surrogate of an operator family: build, train, save, load, guarded prediction.

The network is DeepXDE's ``DeepONetCartesianProd`` trained through ``dde.Model`` on
``dde.data.TripleCartesianProd`` (branch: the input function at the sensors, (n, m); trunk:
the query coordinates, (q, d); target (n, q)). Inputs and outputs are normalised with
statistics of the *training* inputs only:

- branch: (v - mean over training functions per sensor) / one scalar std, or (``whiten_tol``)
  projected on the training inputs' principal directions and scaled to unit variance;
- trunk: each coordinate mapped linearly from its range to [-1, 1];
- output: (u - mean training solution per point) / one scalar std.

With ``pod_tol`` the trunk is the POD basis of the normalised training solutions (DeepXDE's
``PODDeepONet``, Lu et al. 2022): the branch maps the input to the coefficients of the leading
modes, as many as leave at most ``pod_tol`` of the training solutions' variance unexplained. The
basis is a buffer of the network, so it is saved in ``operator.pt`` with the weights.

A saved model is ``operator.pt`` (state dict, read with ``torch.load(weights_only=True)``) and
``operator.json`` (format version, family spec, architecture, normalisation statistics, the
range of the training inputs used by the query guard, the sha256 of the training data).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


FORMAT = "sciml.pde.operator.deeponet"
FORMAT_VERSION = 1
WEIGHTS_FILE = "operator.pt"
META_FILE = "operator.json"
ARCH_KEYS = ("width", "depth", "latent", "activation", "branch_activation", "branch_depth", "periodic_features",
             "whiten_tol", "pod_tol")


@contextmanager
def float32_default() -> Iterator[None]:
    """torch's default dtype float32 inside the block, restored after (DeepXDE sets it process-wide;
    same reason as sciml.pde.pinn.torch_precision)."""
    import torch

    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


class OutOfRangeWarning(UserWarning):
    """A query input lies outside the range of the training inputs (the prediction extrapolates)."""


def input_stats(inputs: np.ndarray) -> dict[str, float]:
    """Range of the training inputs for the guard: RMS over sensors and max |v| per function."""
    rms = np.sqrt(np.mean(inputs**2, axis=1))
    return {"rms_min": float(rms.min()), "rms_max": float(rms.max()), "abs_max": float(np.abs(inputs).max())}


@dataclass
class Normaliser:
    """Affine maps of branch, trunk and output (statistics of the training data)."""

    in_mean: np.ndarray  # (m,)
    in_std: float
    lo: np.ndarray  # (d,) trunk coordinate minima
    hi: np.ndarray  # (d,)
    out_mean: np.ndarray  # (q,)
    out_std: float
    periodic_features: int = 0  # K > 0: first coordinate periodic on [-1, 1) -> cos/sin(k pi x), k = 1..K
    whiten: np.ndarray | None = None  # (m, r) PCA whitening of the branch input (None: scalar std only)

    @classmethod
    def fit(cls, inputs: np.ndarray, points: np.ndarray, outputs: np.ndarray,
            periodic_features: int = 0, whiten_tol: float | None = None) -> "Normaliser":
        """Statistics of the training data; ``whiten_tol``: PCA-whiten the branch input, keeping the
        principal directions with variance >= whiten_tol * the largest."""
        in_mean = inputs.mean(axis=0)
        out_mean = outputs.mean(axis=0)
        whiten = None
        if whiten_tol:
            # smooth random fields have sensor covariances spanning many decades; unit-variance
            # principal components make every direction equally easy for Adam to learn
            _, sv, vt = np.linalg.svd(inputs - in_mean, full_matrices=False)
            var = sv**2 / max(1, len(inputs) - 1)
            keep = var >= whiten_tol * var[0]
            whiten = vt[keep].T / np.sqrt(var[keep])
        return cls(in_mean, float((inputs - in_mean).std()) or 1.0, points.min(axis=0), points.max(axis=0),
                   out_mean, float((outputs - out_mean).std()) or 1.0, int(periodic_features), whiten)

    def branch_dim(self) -> int:
        """Width of the branch input."""
        return len(self.in_mean) if self.whiten is None else self.whiten.shape[1]

    def trunk_dim(self) -> int:
        """Width of the trunk input."""
        k = self.periodic_features
        return len(self.lo) + (2 * k - 1 if k else 0)

    def branch(self, v: np.ndarray) -> np.ndarray:
        if self.whiten is not None:
            return ((v - self.in_mean) @ self.whiten).astype(np.float32)
        return ((v - self.in_mean) / self.in_std).astype(np.float32)

    def trunk(self, x: np.ndarray) -> np.ndarray:
        span = np.where(self.hi > self.lo, self.hi - self.lo, 1.0)
        z = 2.0 * (x - self.lo) / span - 1.0
        if self.periodic_features:
            # a periodic coordinate as Fourier features makes every trunk basis function exactly
            # periodic (the affine map above would not: the grid stops one step short of x = 1)
            k = np.pi * np.arange(1, self.periodic_features + 1)
            z = np.concatenate([np.cos(np.outer(x[:, 0], k)), np.sin(np.outer(x[:, 0], k)), z[:, 1:]], axis=1)
        return z.astype(np.float32)

    def target(self, u: np.ndarray) -> np.ndarray:
        return ((u - self.out_mean) / self.out_std).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Normaliser":
        def value(k: str, v: Any) -> Any:
            if v is None or isinstance(v, list):
                return None if v is None else np.asarray(v, dtype=float)
            return int(v) if k == "periodic_features" else float(v)

        return cls(**{k: value(k, v) for k, v in d.items()})


@dataclass
class Surrogate:
    """A trained DeepONet with what it needs to predict and to guard its queries."""

    net: Any
    norm: Normaliser
    points: np.ndarray  # (q, d) the query points it was trained on
    meta: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"

    @property
    def sensors(self) -> int:
        """Number of sensor values one query input must have."""
        return len(self.norm.in_mean)

    def check_inputs(self, inputs: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
        """Flags (n,) of queries outside the training range (RMS below/above the training
        functions' RMS range or max |v| above theirs, widened by ``tolerance``); ValueError for
        a wrong shape or NaN/inf. Warns (OutOfRangeWarning) when any query is flagged."""
        inputs = np.asarray(inputs, dtype=float)
        if inputs.ndim != 2 or inputs.shape[1] != self.sensors:
            raise ValueError(f"query inputs must have shape (n, {self.sensors}) (one value per sensor), "
                             f"got {inputs.shape}")
        if not np.all(np.isfinite(inputs)):
            raise ValueError("query inputs contain NaN/inf")
        g = self.meta["input_range"]
        rms = np.sqrt(np.mean(inputs**2, axis=1))
        flags = ((rms < g["rms_min"] * (1 - tolerance)) | (rms > g["rms_max"] * (1 + tolerance))
                 | (np.abs(inputs).max(axis=1) > g["abs_max"] * (1 + tolerance)))
        if flags.any():
            warnings.warn(f"{int(flags.sum())} of {len(flags)} query inputs lie outside the training range "
                          f"(RMS {g['rms_min']:.3g}..{g['rms_max']:.3g}, max |v| {g['abs_max']:.3g}); their "
                          "predictions extrapolate and are flagged out_of_range", OutOfRangeWarning, stacklevel=2)
        return flags

    def predict_raw(self, inputs: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """(n, q) predictions without checks (the timed path)."""
        import torch

        trunk = torch.as_tensor(self.norm.trunk(self.points), device=self.device)
        out = []
        with torch.no_grad():
            for i in range(0, len(inputs), chunk):
                b = torch.as_tensor(self.norm.branch(inputs[i:i + chunk]), device=self.device)
                out.append(self.net((b, trunk)).cpu().numpy())
        return np.concatenate(out).astype(float) * self.norm.out_std + self.norm.out_mean

    def predict(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(u (n, q), out_of_range (n,) bool) for query inputs (n, m) at the sensors."""
        flags = self.check_inputs(inputs)
        return self.predict_raw(np.asarray(inputs, dtype=float)), flags


def pod_basis(targets: np.ndarray, tol: float) -> np.ndarray:
    """(q, K) POD basis of normalised, centred training solutions ``targets`` (n, q): the fewest
    leading modes leaving at most ``tol`` of their variance unexplained, each scaled by the std of
    the coefficients so the branch predicts order-one numbers."""
    # float64: the unexplained fraction 1 - cumsum/sum of float32 singular values cannot fall below
    # ~1e-7, so a float32 SVD would keep every mode for pod_tol <= 1e-7
    _, sv, vt = np.linalg.svd(np.asarray(targets, dtype=np.float64), full_matrices=False)
    left = 1.0 - np.cumsum(sv**2) / np.sum(sv**2)
    k = int(np.argmax(left <= tol)) + 1 if np.any(left <= tol) else len(sv)
    coeffs = targets @ vt[:k].T
    return (vt[:k].T * (float(coeffs.std()) or 1.0)).astype(np.float32)


def build_net(dde: Any, m: int, d: int, cfg: dict[str, Any], basis: np.ndarray | None = None) -> Any:
    """``DeepONetCartesianProd`` with ``depth`` hidden layers of ``width`` in branch and trunk
    and ``latent`` basis functions; ``branch_activation`` (None: ``activation``) may differ from
    the trunk's ("linear" makes the branch a linear map, exact in form for a linear operator).
    With ``basis`` (q, K) (``pod_tol`` set): DeepXDE's ``PODDeepONet`` on that fixed basis."""
    import torch

    hidden = [int(cfg["width"])] * int(cfg["depth"])
    bdepth = cfg.get("branch_depth")
    bhidden = hidden if bdepth is None else [int(cfg["width"])] * int(bdepth)
    branch = cfg.get("branch_activation") or cfg["activation"]
    act = {"branch": None if branch == "linear" else branch, "trunk": cfg["activation"]}  # None: DeepXDE's identity
    if basis is None:
        return dde.nn.DeepONetCartesianProd([m, *bhidden, int(cfg["latent"])], [d, *hidden, int(cfg["latent"])],
                                            act, "Glorot normal")
    net = dde.nn.PODDeepONet(basis, [m, *bhidden, basis.shape[1]], act, "Glorot normal")
    # DeepXDE keeps the basis as a plain attribute: a buffer instead follows .to(device) and is
    # saved and restored with the state dict
    del net.pod_basis
    net.register_buffer("pod_basis", torch.as_tensor(basis, dtype=torch.float32))
    return net


def _setup(cfg: dict[str, Any], threads: int | None) -> tuple[Any, str]:
    """DeepXDE (PyTorch backend) with float32, the run's seed and threads; the chosen device."""
    import torch

    from sciml.pde.backend import import_deepxde, pin_default_device, set_float_quietly

    dde = import_deepxde()
    if threads:
        torch.set_num_threads(int(threads))
    set_float_quietly(dde, "float32")
    dde.config.set_random_seed(int(cfg["seed"]))
    return dde, pin_default_device(cfg.get("accelerator", "auto"))


def train(arrays: dict[str, np.ndarray], cfg: dict[str, Any], *, data_sha256: str = "",
          family_spec: dict[str, Any] | None = None, threads: int | None = None,
          log=print) -> tuple[Surrogate, dict[str, Any]]:
    """Train on ``inputs_train``/``outputs_train`` with Adam (cosine-decayed learning rate),
    scoring the validation split every ``display_every`` iterations; returns the surrogate and
    {train_seconds, history (iteration, train loss, validation loss)}."""
    dde, device = _setup(cfg, threads)
    x_tr, y_tr = arrays["inputs_train"], arrays["outputs_train"]
    x_va, y_va = arrays["inputs_validation"], arrays["outputs_validation"]
    points = arrays["points"]
    norm = Normaliser.fit(x_tr, points, y_tr, int(cfg.get("periodic_features") or 0), cfg.get("whiten_tol"))
    with float32_default():
        trunk = norm.trunk(points)
        data = dde.data.TripleCartesianProd((norm.branch(x_tr), trunk), norm.target(y_tr),
                                            (norm.branch(x_va), trunk), norm.target(y_va))
        basis = pod_basis(norm.target(y_tr), float(cfg["pod_tol"])) if cfg.get("pod_tol") else None
        net = build_net(dde, norm.branch_dim(), norm.trunk_dim(), cfg, basis)
        model = dde.Model(data, net)
        iters = int(cfg["iterations"])
        model.compile("adam", lr=float(cfg["lr"]), decay=("cosine", iters, float(cfg["lr"]) * 1e-2), verbose=0)
        batch = cfg.get("batch_size")
        t0 = time.perf_counter()
        history, _ = model.train(iterations=iters, batch_size=int(batch) if batch else None,
                                 display_every=max(1, iters // 10), verbose=0)
        seconds = time.perf_counter() - t0
    net.eval()
    arch = {k: cfg.get(k) for k in ARCH_KEYS} | {"pod_modes": None if basis is None else int(basis.shape[1])}
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "family": family_spec or {},
            "architecture": arch, "normaliser": norm.to_dict(),
            "input_range": input_stats(x_tr), "data_sha256": data_sha256, "sensors": int(x_tr.shape[1]),
            "query_points": int(len(points)), "train_functions": int(len(x_tr)), "seed": int(cfg["seed"])}
    rows = [{"iteration": int(s), "train_loss": float(np.sum(a)), "validation_loss": float(np.sum(b))}
            for s, a, b in zip(history.steps, history.loss_train, history.loss_test)]
    log(f"trained {iters} Adam iterations in {seconds:.1f} s on {device}; last validation loss "
        f"{rows[-1]['validation_loss']:.3e}")
    return Surrogate(net, norm, points, meta, device), {"train_seconds": seconds, "history": rows}


def save(model_dir: str | Path, sur: Surrogate) -> list[Path]:
    """Write ``operator.pt`` and ``operator.json`` (+ the query points in the JSON) atomically."""
    from sciml.io import save_torch_atomic, write_json_atomic

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    save_torch_atomic({k: v.detach().cpu() for k, v in sur.net.state_dict().items()}, model_dir / WEIGHTS_FILE)
    write_json_atomic(model_dir / META_FILE, {**sur.meta, "points": sur.points.tolist()})
    return [model_dir / WEIGHTS_FILE, model_dir / META_FILE]


def load(model_dir: str | Path, accelerator: str = "auto", threads: int | None = None) -> Surrogate:
    """The saved surrogate; DataError when the folder is not a model of this format version."""
    import torch

    from sciml.io import read_model_json

    meta = read_model_json(Path(model_dir) / META_FILE, FORMAT, FORMAT_VERSION, "operator surrogate", "sciml pde operator")
    dde, device = _setup({"seed": meta["seed"], "accelerator": accelerator}, threads)
    points = np.asarray(meta.pop("points"), dtype=float)
    norm = Normaliser.from_dict(meta["normaliser"])
    with float32_default():
        arch = meta["architecture"]
        basis = np.zeros((len(points), int(arch["pod_modes"])), np.float32) if arch.get("pod_modes") else None
        net = build_net(dde, norm.branch_dim(), norm.trunk_dim(), arch, basis)
        state = torch.load(Path(model_dir) / WEIGHTS_FILE, weights_only=True, map_location=device)
        net.load_state_dict(state)
    net.to(device).eval()
    return Surrogate(net, norm, points, meta, device)
