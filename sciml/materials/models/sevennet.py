"""SevenNet's pretrained crystal representation with a new property head (frozen or fine-tuned).

The backbone is a SevenNet universal interatomic potential (Park et al., J. Chem. Theory
Comput. 20, 4857 (2024); PyPI ``sevenn``): an E(3)-equivariant NequIP-style network
pretrained on MPtrj. ``checkpoint`` picks the weights the installed wheel ships (nothing is
downloaded): ``7net-0`` (SevenNet-0, 11Jul2024: 5 interaction blocks, 128 channels, lmax 2,
5 A cutoff) or ``7net-l3i5`` (SevenNet-l3i5: the same with lmax 3); both embed the same 89 elements.

Per-structure features: the invariant (scalar, l=0) node features after the last
interaction block (the output of the last equivariant gate, 128 wide for both checkpoints),
mean-pooled over the atoms, plus the pretrained energy per atom (eV/atom; the energy
readout is two linear maps and a species-wise rescale of those features, so it is cheap;
forces and stresses are never computed). A NEW head maps these ``width + 1`` numbers to one
normalised property value.

Loading: the file's sha256 is checked against :data:`KNOWN_WEIGHTS` (the files of the
``sevenn==0.13.*`` wheel) and it is read with ``torch.load(weights_only=True)``. SevenNet's
own loader (``sevenn.checkpoint.SevenNetCheckpoint._load``) unpickles with
``weights_only=False``, which can run arbitrary code from the file, so we do not call it: we
allow-list exactly the non-tensor globals these checkpoints contain (numpy arrays of float32
for the species-wise shift/scale in the config: ``numpy.ndarray``, ``numpy.dtype``,
``numpy.dtypes.Float32DType`` and the array reconstructor, see :func:`_safe_globals`) and
build the network from the checkpoint's config dict with sevenn's model builder
(``build_E3_equivariant_model``). A corrupted or mismatched file is a
:class:`~sciml.errors.DataError` naming it.

``freeze``: ``head`` (only the new head trains; the features are computed once, the backbone
runs under ``no_grad``), ``last_blocks`` (the head, SevenNet's energy readout and the last
``trainable_blocks`` interaction blocks train), ``none`` (every parameter SevenNet itself
trained trains; its fixed species shift/scale and radial basis stay fixed).
:meth:`SevenNetRegressor.param_groups` gives layer-wise learning rates: backbone parameters
at ``lr * backbone_lr_scale``, the head at ``lr``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sciml.materials.models.chgnet import PretrainedRegressor, check_weight_file

#: The weight files the sevenn 0.13 wheel ships (checkpoint name -> (file relative to the package, sha256)).
KNOWN_WEIGHTS = {
    "7net-0": ("pretrained_potentials/SevenNet_0__11Jul2024/checkpoint_sevennet_0.pth",
               "7052cb42b7b3be42b40b97fa0d21077a48c54b5548948fc4dcf346629f813c36"),
    "7net-l3i5": ("pretrained_potentials/SevenNet_l3i5/checkpoint_l3i5.pth",
                  "a7ff190d41efe5b8317a03d20a468e4036a1a3e64e0b14fdbab64ac3f4bfc09d"),
}
#: SevenNet's radial cutoff (A) of both checkpoints: the neighbour graph it is evaluated on.
SEVENNET_CUTOFF = 5.0
FREEZE_MODES = ("head", "last_blocks", "none")
#: SevenNet's energy readout after the interaction blocks (trained with ``freeze: last_blocks``).
READOUT_MODULES = ("reduce_input_to_hidden", "reduce_hidden_to_energy")


def _safe_globals() -> list[Any]:
    """The non-tensor globals of the SevenNet checkpoints, and nothing else: the config's
    species-wise ``shift``/``scale`` (and their ``_cp`` copies) are pickled numpy float32
    arrays. Pickles name the reconstructor ``numpy.core.multiarray._reconstruct`` (numpy 1.x
    layout); under numpy 2 it lives in ``numpy._core`` and is registered under the pickled name."""
    import numpy as np

    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return [(_reconstruct, "numpy.core.multiarray._reconstruct"), np.ndarray, np.dtype, type(np.dtype(np.float32))]


def pretrained_weights_path(checkpoint: str = "7net-0") -> Path:
    """Path of the installed sevenn package's weight file of ``checkpoint``."""
    import sevenn

    from sciml.errors import ConfigError

    if checkpoint not in KNOWN_WEIGHTS:
        raise ConfigError("materials.model.sevennet.checkpoint",
                          f"unknown SevenNet checkpoint {checkpoint!r} (valid: {', '.join(KNOWN_WEIGHTS)})")
    return Path(sevenn.__file__).parent / KNOWN_WEIGHTS[checkpoint][0]


def read_checkpoint(checkpoint: str = "7net-0", weights_path: str | Path | None = None) -> dict[str, Any]:
    """The checkpoint dict (``config``, ``model_state_dict``, ...) of ``checkpoint``, its sha256
    checked and read with ``torch.load(weights_only=True)`` and the allow-list above.
    ``weights_path`` overrides the installed file (tests); it must still have the known sha256."""
    from sciml.errors import DataError

    path = Path(weights_path) if weights_path is not None else pretrained_weights_path(checkpoint)
    check_weight_file(path, f"SevenNet {checkpoint}", KNOWN_WEIGHTS[checkpoint][1], "sevenn==0.13.*")
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or "config" not in ckpt or "model_state_dict" not in ckpt:
            raise KeyError("config / model_state_dict")
    except Exception as exc:  # a file with the right hash always loads; this guards a changed torch/numpy
        raise DataError(path, f"cannot read the SevenNet checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from None
    return ckpt


@functools.lru_cache(maxsize=4)
def known_atomic_numbers(checkpoint: str = "7net-0", weights_path: str | None = None) -> frozenset[int]:
    """Atomic numbers the pretrained ``checkpoint`` embeds (its ``_type_map``); others are quarantined."""
    cfg = read_checkpoint(checkpoint, weights_path)["config"]
    return frozenset(int(z) for z in cfg["_type_map"])


def load_pretrained(checkpoint: str = "7net-0", weights_path: str | Path | None = None) -> Any:
    """The pretrained SevenNet ``AtomGraphSequential`` (CPU, eval), built from the checkpoint's
    config with sevenn's model builder and loaded with ``strict=True``."""
    from sciml.errors import DataError

    ckpt = read_checkpoint(checkpoint, weights_path)
    path = Path(weights_path) if weights_path is not None else pretrained_weights_path(checkpoint)
    try:
        from sevenn.checkpoint import _config_cp_routine, compat
        from sevenn.model_build import build_E3_equivariant_model

        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            cfg = _config_cp_routine(dict(ckpt["config"]))  # sevenn's defaults + shift/scale resolution
            net = build_E3_equivariant_model(cfg)
            state = compat.patch_state_dict_if_old(ckpt["model_state_dict"], cfg, net)
        net.load_state_dict(state, strict=True)
    except Exception as exc:  # a file with the right hash always builds; this guards a changed sevenn API
        raise DataError(path, f"cannot build SevenNet from the weight file ({type(exc).__name__}: {str(exc)[:200]})") from None
    net.n_layers = int(cfg["num_convolution_layer"])
    return net.eval()


class SevenNetRegressor(PretrainedRegressor):
    """Pretrained SevenNet backbone + new head; ``forward(batch)`` -> (B,) normalised values.

    ``batch`` is a :class:`~sciml.materials.sevennet_data.SevenNetBatch` (SevenNet's own
    neighbour graphs) or, with precomputed features, a
    :class:`~sciml.materials.chgnet_data.FeatureBatch`.
    """

    def __init__(self, freeze: str = "head", trainable_blocks: int = 1, backbone_lr_scale: float = 0.1,
                 head_hidden: int = 64, checkpoint: str = "7net-0", weights_path: str | None = None):
        super().__init__()
        from sciml.errors import ConfigError

        if freeze not in FREEZE_MODES:
            raise ConfigError("materials.model.sevennet.freeze", f"unknown mode {freeze!r} (valid: {', '.join(FREEZE_MODES)})")
        self.freeze = freeze
        self.backbone_lr_scale = float(backbone_lr_scale)
        self.backbone = load_pretrained(checkpoint, weights_path)
        # what SevenNet itself trained (its species shift/scale and radial basis are fixed there)
        trained = {name for name, p in self.backbone.named_parameters() if p.requires_grad}
        self.backbone.requires_grad_(False)
        n_blocks = self.backbone.n_layers
        if freeze != "head":
            k = int(trainable_blocks)
            if not 1 <= k <= n_blocks:
                raise ConfigError("materials.model.sevennet.trainable_blocks", f"{k} not in 1..{n_blocks}")
            for name, p in self.backbone.named_parameters():
                module = name.split(".", 1)[0]
                block = module.split("_", 1)[0]
                last = module in READOUT_MODULES or (block.isdigit() and int(block) >= n_blocks - k)
                if name in trained and (freeze == "none" or last):
                    p.requires_grad_(True)
        n = self.backbone.n_layers
        names = list(self.backbone._modules)
        # every module before the per-structure energy sum: embedding, the n interaction
        # blocks, the energy readout and the species-wise rescale (never the force output)
        from sevenn.nn.linear import AtomReduce

        stop = next(i for i, name in enumerate(names) if isinstance(self.backbone._modules[name], AtomReduce))
        self._feature_modules = names[:stop]
        self._last_gate = f"{n - 1}_equivariant_gate"
        if self._last_gate not in self._feature_modules:
            raise ConfigError("materials.model.sevennet.checkpoint", f"no module {self._last_gate!r} in the SevenNet model")
        from e3nn.o3 import Irreps

        irreps = Irreps(self.backbone.get_irreps_in(self._last_gate, "irreps_out") or "")
        self._scalar_dim = sum(mul for mul, ir in irreps if ir.l == 0 and ir.p == 1)
        if self._scalar_dim == 0 or irreps[0].ir.l != 0:
            raise ConfigError("materials.model.sevennet.checkpoint", f"unexpected last-block irreps {irreps}")
        self.feature_dim = self._scalar_dim + 1
        self.head = nn.Sequential(nn.Linear(self.feature_dim, head_hidden), nn.SiLU(), nn.Linear(head_hidden, 1))

    def train(self, mode: bool = True) -> "SevenNetRegressor":
        super().train(mode)
        if self.freeze == "head":
            self.backbone.eval()  # frozen: always in eval mode (SevenNet has no dropout or batch norm anyway)
        return self

    def features(self, batch) -> torch.Tensor:
        """(B, width + 1) features: mean over atoms of the scalar node features after the last
        interaction block, and SevenNet's energy per atom (eV/atom)."""
        from torch_geometric.utils import scatter

        data = self.backbone._preprocess(batch.data.clone())
        pooled = None
        for name in self._feature_modules:
            data = self.backbone._modules[name](data)
            if name == self._last_gate:
                scalars = data["x"][:, :self._scalar_dim]
                pooled = scatter(scalars, data["batch"], dim=0, dim_size=batch.num_graphs, reduce="mean")
        atomic_energy = data["atomic_energy"].reshape(-1)
        e_per_atom = scatter(atomic_energy, data["batch"], dim=0, dim_size=batch.num_graphs, reduce="mean")
        return torch.cat([pooled, e_per_atom.view(-1, 1)], dim=1)

