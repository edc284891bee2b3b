"""Crystal GNNs as plain ``torch.nn.Module``s (usable without Lightning).

Every model takes a PyG batch with ``z`` (atomic numbers), ``edge_index`` (source j,
target i), ``distance`` (A) and ``batch``, and returns one scalar per graph, shape (B,).
"""

from __future__ import annotations

from typing import Any

MODEL_NAMES = ("cgcnn", "cogn")
#: Pretrained models: they read their own graphs (CHGNet: :mod:`sciml.materials.chgnet_data`,
#: SevenNet: :mod:`sciml.materials.sevennet_data`), not PyG graphs.
PRETRAINED = ("chgnet", "sevennet")


def build_model(name: str, **kwargs: Any):
    """Instantiate model ``name`` (one of :data:`MODEL_NAMES`) with its keyword arguments."""
    from sciml.errors import ConfigError

    if name == "cgcnn":
        from sciml.materials.models.cgcnn import CGCNN

        return CGCNN(**kwargs)
    if name == "cogn":
        from sciml.materials.models.cogn import CoGNLite

        return CoGNLite(**kwargs)
    if name == "chgnet":
        from sciml.materials.models.chgnet import CHGNetRegressor

        return CHGNetRegressor(**kwargs)
    if name == "sevennet":
        from sciml.materials.models.sevennet import SevenNetRegressor

        return SevenNetRegressor(**kwargs)
    raise ConfigError("materials.model.name", f"unknown model '{name}' (valid: {', '.join(MODEL_NAMES + PRETRAINED)})")


def model_kwargs(cfg: dict[str, Any], max_z: int) -> dict[str, Any]:
    """Constructor arguments of the model a materials config section names (its
    ``model.<name>`` sizes, the graph cutoff in Angstrom and the embedding size ``max_z``)."""
    name = cfg["model"]["name"]
    kw = dict(cfg["model"].get(name, {}))
    if name in PRETRAINED:  # fixed pretrained graph settings and embedding
        kw.pop("probe", None)  # a training procedure (sciml.materials.probe), not part of the model
        return kw
    kw["cutoff"] = float(cfg["graph"]["cutoff"])
    kw["max_z"] = int(max_z)
    return kw
