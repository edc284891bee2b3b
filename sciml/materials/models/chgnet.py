"""CHGNet's pretrained crystal representation with a new property head (fine-tuning).

The backbone is CHGNet 0.3.0 (Deng et al. 2023, MPtrj-pretrained; PyPI ``chgnet``): its atom,
bond and angle embeddings and message-passing blocks up to the crystal feature (the mean of
the 64-wide atom features after the readout LayerNorm). A NEW head maps
``[crystal_fea (64), pretrained energy per atom (eV)]`` (with ``stacking``, plus the three restacking
descriptors of :mod:`sciml.materials.stacking`, always from the pretrained potential; with ``dispersion``
too, two more from the potential plus a D3 correction, :mod:`sciml.materials.dispersion`) to one
normalised property value.

The weights come from the installed package's file (``chgnet/pretrained/0.3.0/*.pth.tar``,
shipped in the wheel: nothing is downloaded). We load that file ourselves with
``torch.load(weights_only=True)`` (``CHGNet.load`` unpickles with ``weights_only=False``)
after checking its sha256 against :data:`KNOWN_SHA256`; a corrupted or mismatched file is a
:class:`~sciml.errors.DataError` naming it.

``freeze``: ``head`` (only the new head trains; the backbone runs under ``no_grad``),
``last_blocks`` (the head, the readout LayerNorm, CHGNet's energy MLP and the last
``trainable_blocks`` atom/bond/angle layers train), ``none`` (everything trains).
:meth:`CHGNetRegressor.param_groups` gives layer-wise learning rates: backbone parameters
at ``lr * backbone_lr_scale``, the head at ``lr``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

#: sha256 of the weight files the chgnet wheels ship (model name -> (file relative to the package, sha256)).
KNOWN_WEIGHTS = {
    "0.3.0": ("pretrained/0.3.0/chgnet_0.3.0_e29f68s314m37.pth.tar",
              "d14ab7c0f093efe64b60a7bcd540bca10e74fb7f46c86108a079af60524659d1"),
}
#: Largest atomic number CHGNet embeds (its atom embedding has 94 rows: H..Pu).
CHGNET_MAX_Z = 94
#: Elements below CHGNET_MAX_Z that CHGNet 0.3.0's training set (MPtrj, 89 elements) lacks: Po, At, Rn, Fr,
#: Ra. Their embedding rows kept their random initialisation (row norms 7.5-8.7, about sqrt(64), against 21-32
#: for every trained neighbour, Hg-Bi and Ac-Pu, measured on the shipped 0.3.0 weights), so a structure with
#: one is refused like an element beyond CHGNET_MAX_Z, as SevenNet's unknown elements are.
CHGNET_UNTRAINED_Z = frozenset({84, 85, 86, 87, 88})
FREEZE_MODES = ("head", "last_blocks", "none")
#: Records whose restacking descriptors a model keeps (about 200 bytes each) before it starts afresh.
_DESCRIPTOR_CACHE_SIZE = 50_000


def pretrained_weights_path(version: str = "0.3.0") -> Path:
    """Path of the installed package's weight file of CHGNet ``version``."""
    import chgnet

    from sciml.errors import ConfigError

    if version not in KNOWN_WEIGHTS:
        raise ConfigError("materials.model.chgnet.pretrained", f"unknown CHGNet weights {version!r} (valid: {', '.join(KNOWN_WEIGHTS)})")
    return Path(chgnet.__file__).parent / KNOWN_WEIGHTS[version][0]


def check_weight_file(path: Path, model: str, expected: str, package: str) -> None:
    """DataError naming ``path`` unless it exists and its sha256 is ``expected`` (the file the
    ``package`` wheel ships for ``model``)."""
    from sciml.errors import DataError

    if not path.is_file():
        raise DataError(path, f"{model} weight file missing", hint=f"reinstall {package} (pip install 'sciml[pretrained]')")
    digest = sha256_of(path)
    if digest != expected:
        raise DataError(path, f"{model} weight file sha256 {digest[:16]}... does not match the released "
                              f"file's {expected[:16]}... (corrupted or a different model)",
                        hint=f"reinstall {package} so its wheel restores the file")


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_pretrained(version: str = "0.3.0", weights_path: str | Path | None = None) -> Any:
    """The pretrained ``chgnet.model.CHGNet`` (CPU, eval), its weights checked by sha256.

    ``weights_path`` overrides the installed file (tests); it must still have the known sha256.
    """
    from chgnet.model import CHGNet

    from sciml.errors import DataError

    path = Path(weights_path) if weights_path is not None else pretrained_weights_path(version)
    check_weight_file(path, f"CHGNet {version}", KNOWN_WEIGHTS[version][1], "chgnet==0.4.*")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        state = ckpt["model"]
        with contextlib.redirect_stdout(io.StringIO()):  # CHGNet prints a banner on construction
            net = CHGNet(**state["model_args"], mlp_out_bias=version == "0.2.0", version=version)
        net.load_state_dict(state["state_dict"])
    except Exception as exc:  # a file with the right hash always loads; this guards a changed chgnet API
        raise DataError(path, f"cannot build CHGNet from the weight file ({type(exc).__name__}: {str(exc)[:200]})") from None
    return net.eval()


class PretrainedRegressor(nn.Module):
    """A pretrained backbone with a new property head (CHGNet, SevenNet). Subclasses set
    ``backbone``, ``head``, ``freeze`` (head | last_blocks | none), ``backbone_lr_scale`` and define
    ``features(batch)`` -> (B, F); this class gives the forward pass and the optimizer groups."""

    def forward(self, batch) -> torch.Tensor:
        if getattr(batch, "features", None) is not None:  # precomputed frozen features (freeze: head)
            return self.head(batch.features.float()).view(-1)
        if self.freeze == "head":
            with torch.no_grad():
                feats = self.features(batch)
        else:
            feats = self.features(batch)
        return self.head(feats.float()).view(-1)

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """AdamW parameter groups: trainable backbone parameters at ``lr * backbone_lr_scale``, head at ``lr``."""
        groups = [{"params": list(self.head.parameters()), "lr": float(lr)}]
        backbone = [p for p in self.backbone.parameters() if p.requires_grad]
        if backbone:
            groups.append({"params": backbone, "lr": float(lr) * self.backbone_lr_scale})
        return groups


class CHGNetRegressor(PretrainedRegressor):
    """Pretrained CHGNet backbone + new head; ``forward(batch)`` -> (B,) normalised values.

    ``batch`` has ``graphs`` (a list of ``chgnet.graph.CrystalGraph``), see
    :mod:`sciml.materials.chgnet_data`.
    """

    def __init__(self, freeze: str = "last_blocks", trainable_blocks: int = 1, backbone_lr_scale: float = 0.1,
                 head_hidden: int = 64, pretrained: str = "0.3.0", weights_path: str | None = None,
                 stacking: bool = False, dispersion: bool = False):
        super().__init__()
        from sciml.errors import ConfigError

        if freeze not in FREEZE_MODES:
            raise ConfigError("materials.model.chgnet.freeze", f"unknown mode {freeze!r} (valid: {', '.join(FREEZE_MODES)})")
        if dispersion and not stacking:
            raise ConfigError("materials.model.chgnet.dispersion", "adds to the restacking descriptors: set stacking: true as well")
        self.dispersion = bool(dispersion)
        self.freeze = freeze
        self.pretrained = pretrained
        self.stacking = bool(stacking)
        self.backbone_lr_scale = float(backbone_lr_scale)
        self.backbone = load_pretrained(pretrained, weights_path).train()
        # the restacking descriptors always come from the pretrained potential: the frozen backbone itself, or,
        # when the backbone is fine-tuned, a frozen copy kept out of the module (not trained, not saved)
        self._potential = [self.backbone if freeze == "head" or not stacking else load_pretrained(pretrained, weights_path)]
        self._descriptor_cache: dict[bytes, Any] = {}
        fea = int(self.backbone.model_args["atom_fea_dim"])
        from sciml.materials.stacking import names

        extra = len(names(self.dispersion)) if self.stacking else 0
        self.head = nn.Sequential(nn.Linear(fea + 1 + extra, head_hidden), nn.SiLU(), nn.Linear(head_hidden, 1))
        self.backbone.requires_grad_(freeze == "none")
        if freeze == "last_blocks":
            k = int(trainable_blocks)
            trainable = [self.backbone.readout_norm, self.backbone.mlp]
            for layers in (self.backbone.atom_conv_layers, self.backbone.bond_conv_layers, self.backbone.angle_layers):
                trainable += [m for m in list(layers)[-k:] if m is not None]
            for m in trainable:
                if m is not None:
                    m.requires_grad_(True)

    def features(self, batch) -> torch.Tensor:
        """(B, 65) crystal features: CHGNet's crystal_fea and its energy per atom (eV/atom); with
        ``stacking``, (B, 68): then the restacking descriptors of :mod:`sciml.materials.stacking`
        ((B, 70) with ``dispersion``)."""
        out = self.backbone(list(batch.graphs), task="e", return_crystal_feas=True)
        feats = [out["crystal_fea"], out["e"].view(-1, 1)]
        if self.stacking:
            feats.append(self.stacking_descriptors(batch.graphs).to(feats[0]))
        return torch.cat(feats, dim=1)

    def feature_key(self) -> str:
        """A short digest of what :meth:`features` of the frozen backbone depends on (weights version, the
        stacking descriptors' definition), naming cached features."""
        from sciml.materials import stacking

        spec = {"pretrained": self.pretrained, "stacking": self.stacking and [stacking.GAPS, stacking.OFFSETS, stacking.NAMES]}
        if self.dispersion:  # only when on, so the keys of features cached without it stay valid
            from sciml.materials import dispersion

            spec["dispersion"] = [dispersion.spec(), stacking.DISPERSION_NAMES]
        return hashlib.sha256(repr(spec).encode()).hexdigest()[:12]

    def stacking_descriptors(self, graphs: list[Any], batch_size: int = 64) -> torch.Tensor:
        """(B, 3) restacking descriptors of CHGNet graphs (:func:`sciml.materials.stacking.descriptors`), from the
        frozen pretrained potential's energies of each layer and its restacked cells ((B, 5) with ``dispersion``:
        with the D3 energies of :func:`sciml.materials.dispersion.d3_energies` added). Cached by the graph's
        content (atoms, lattice), so fine-tuning computes them once per record, not once per epoch."""
        import numpy as np

        from sciml.materials.stacking import descriptors

        structures = [(g.atomic_number.cpu().numpy(), g.lattice.detach().cpu().numpy().astype(float),
                       g.atom_frac_coord.detach().cpu().numpy().astype(float)) for g in graphs]
        keys = [hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in s)).digest() for s in structures]
        missing = [n for n, k in enumerate(keys) if k not in self._descriptor_cache]
        if missing:
            if len(self._descriptor_cache) > _DESCRIPTOR_CACHE_SIZE:  # bounded: screening streams any number of structures
                self._descriptor_cache.clear()
            extra = None
            if self.dispersion:  # D3 on the potential's device (a GPU when predict --device cuda put it there)
                from sciml.materials.dispersion import d3_energies

                extra = functools.partial(d3_energies, device=str(next(self._potential[0].parameters()).device))
            values = descriptors(lambda items: self._potential_energies(items, batch_size), [structures[n] for n in missing],
                                 dispersion=extra)
            for n, v in zip(missing, values):
                self._descriptor_cache[keys[n]] = v
        return torch.as_tensor(np.stack([self._descriptor_cache[k] for k in keys]))

    def _potential_energies(self, items: list[tuple[Any, Any, Any]], batch_size: int) -> list[float]:
        """Energy per atom (eV) of (atomic numbers, lattice, frac) cells by the frozen pretrained potential; NaN for a
        cell CHGNet's graph converter rejects for isolated atoms."""
        from pymatgen.core import Lattice, Structure

        from sciml.materials.chgnet_data import converter

        potential = self._potential[0]
        device = next(potential.parameters()).device
        conv = converter()
        cells, energies = [], [float("nan")] * len(items)
        for n, (z, lattice, frac) in enumerate(items):
            try:  # a cell with isolated atoms gets no energy (the descriptor skips that gap)
                cells.append((n, conv(Structure(Lattice(lattice), [int(v) for v in z], frac), graph_id=str(n))))
            except ValueError:  # the converter's isolated-atom refusal; anything else is a real error, raised
                continue
        with torch.no_grad():
            for k in range(0, len(cells), batch_size):
                chunk = cells[k:k + batch_size]
                e = potential([g.to(device) for _, g in chunk], task="e")["e"].view(-1)
                for (n, _), v in zip(chunk, e.tolist()):
                    energies[n] = v
        return energies
