"""The saved contact network: the one owner of its format, written by ``train-model``, read by ``predict``.

A model folder holds ``model.pt`` (``{"member_<m>": state_dict}`` of each seed-ensemble
member, loaded with ``torch.load(weights_only=True)``) and ``model.json``: format name and
version, the feature spec (which pair features, how many channels, and the Potts and
mean-field settings that made the coevolution channels: ``predict`` must compute them the
same way), the architecture, the training and validation families with the sha256 of the
files they were read from, and, when given, the family-held-out cross-validation
metrics of the same config (the honest estimate of how the model does on a new family).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sciml.errors import DataError

FORMAT = "sciml.proteins.contact_network"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.pt"
META_FILE = "model.json"
MODEL_FILES = (WEIGHTS_FILE, META_FILE)
#: The pair features the network reads (:func:`sciml.proteins.features.pair_features`).
FEATURES = "pair_features_v1"
#: One coevolution score matrix + the sequence (:func:`sciml.proteins.features.score_features`): no alignment
#: channels, so the network refines an external matrix given with the sequence alone.
SCORE_FEATURES = "pair_scores_sequence_v1"
#: model.json feature name of each ``proteins.network.features`` set.
FEATURES_BY_SET = {"alignment": FEATURES, "scores": SCORE_FEATURES}
#: The sequence-only model's features (:func:`sciml.proteins.sequence_model.seq_features`): no alignment.
SEQUENCE_FEATURES = "sequence_onehot_separation_v1"


def feature_spec(cfg: dict[str, Any]) -> dict[str, Any]:
    """The features a model of proteins section ``cfg`` reads, with the settings that make them."""
    from sciml.proteins.features import FEATURE_CHANNELS
    from sciml.proteins.lightning import MIN_SEP

    kind = cfg.get("network", {}).get("features", "alignment")
    return {"name": FEATURES_BY_SET[kind], "channels": FEATURE_CHANNELS[kind], "min_separation": MIN_SEP,
            "potts": dict(cfg.get("potts", {})), "meanfield": dict(cfg.get("meanfield", {})),
            "seed": int(cfg.get("seed", 0))}


def sequence_feature_spec() -> dict[str, Any]:
    """The features of the sequence-only model (one-hot residues i, j and separation; no alignment)."""
    from sciml.proteins.lightning import MIN_SEP
    from sciml.proteins.sequence_model import N_SEQ_CHANNELS

    return {"name": SEQUENCE_FEATURES, "channels": N_SEQ_CHANNELS, "min_separation": MIN_SEP}


#: Networks shipped inside the package (``sciml/proteins/pretrained/<folder>``), by feature set:
#: ``predict`` uses them when no model folder is given. Their model.json says how they were trained.
PACKAGED_MODELS = {"alignment": "contact_network", "scores": "score_refiner"}


def is_packaged(model_dir: str | Path) -> bool:
    """True for a model folder shipped inside the package (``sciml/proteins/pretrained/<folder>``)."""
    return Path(model_dir).resolve().parent == Path(__file__).resolve().parent / "pretrained"


def packaged_model_dir(kind: str = "alignment") -> Path:
    """Folder of the network of feature set ``kind`` that ships with sciml (raises DataError if absent)."""
    d = Path(__file__).resolve().parent / "pretrained" / PACKAGED_MODELS[kind]
    if not (d / META_FILE).is_file():
        raise DataError(d, "this installation has no packaged contact network",
                        hint="train one with 'sciml proteins train-model' and pass --model-dir")
    return d


def default_model_dir(model_dir: str | Path | None, sequence_model_dir: str | Path | None, scores: bool,
                      log: Any = None) -> str | None:
    """``model_dir`` as given; when neither it nor a sequence-only model is given, the packaged network
    (the score refiner when an external ``scores`` matrix comes with the target), said on ``log``."""
    if model_dir is not None or sequence_model_dir is not None:
        return None if model_dir is None else str(model_dir)
    import sys

    d = str(packaged_model_dir("scores" if scores else "alignment"))
    (log or (lambda m: print(m, file=sys.stderr)))(f"using the contact network shipped with sciml: {d}")
    return d


def feature_set(meta: dict[str, Any]) -> str:
    """``alignment`` or ``scores``: which input a contact network's model.json says it reads."""
    return {v: k for k, v in FEATURES_BY_SET.items()}.get(meta.get("features", {}).get("name"), "alignment")


def is_sequence_model(meta: dict[str, Any]) -> bool:
    """True for a model.json of the sequence-only model (it needs no alignment)."""
    return meta.get("features", {}).get("name") == SEQUENCE_FEATURES


def save_model(model_dir: str | Path, members: list[Any], meta: dict[str, Any]) -> list[Path]:
    """Write ``model.pt`` (the members' state dicts) and ``model.json`` (``meta`` plus the format) atomically."""
    from sciml.io import save_torch_atomic, write_json_atomic

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    state = {f"member_{m}": {k: v.detach().cpu() for k, v in net.state_dict().items()} for m, net in enumerate(members)}
    save_torch_atomic(state, model_dir / WEIGHTS_FILE)
    write_json_atomic(model_dir / META_FILE, {**meta, "format": FORMAT, "format_version": FORMAT_VERSION,
                                              "weights": WEIGHTS_FILE, "ensemble": len(members)})
    return [model_dir / n for n in MODEL_FILES]


def read_model_meta(model_dir: str | Path) -> dict[str, Any]:
    """``model.json`` of a model folder; DataError when missing, unreadable, of another format or version."""
    from sciml.io import read_model_json

    path = Path(model_dir) / META_FILE
    meta = read_model_json(path, FORMAT, FORMAT_VERSION, "contact network", "sciml proteins train-model")
    if meta.get("features", {}).get("name") not in (FEATURES, SCORE_FEATURES, SEQUENCE_FEATURES):
        raise DataError(path, f"the model reads features {meta.get('features', {}).get('name')!r}, this sciml computes "
                              f"{FEATURES!r}, {SCORE_FEATURES!r} or {SEQUENCE_FEATURES!r}", hint="retrain with 'sciml proteins train-model'")
    return meta


def load_model(model_dir: str | Path) -> tuple[list[Any], dict[str, Any]]:
    """The ensemble members (:class:`~sciml.proteins.models.resnet2d.ContactResNet`, CPU, eval mode) and ``model.json``."""
    import torch

    from sciml.proteins.models.resnet2d import ContactResNet

    meta = read_model_meta(model_dir)
    path = Path(model_dir) / WEIGHTS_FILE
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DataError(path, "model.json is there but model.pt is missing") from None
    except Exception as exc:  # a torn or foreign file: torch raises several types
        raise DataError(path, f"cannot load the weights with weights_only=True ({type(exc).__name__}: {exc})") from None
    arch = meta["architecture"]
    members = []
    for m in range(int(meta["ensemble"])):
        net = ContactResNet(int(meta["features"]["channels"]), int(arch["channels"]), int(arch["blocks"]))
        try:
            net.load_state_dict(state[f"member_{m}"])
        except (KeyError, RuntimeError) as exc:
            raise DataError(path, f"weights of member {m} do not fit the architecture in model.json ({exc})") from None
        members.append(net.eval())
    return members, meta
