"""One network from several checkpoints of it: their weights averaged.

A model fine-tuned from another lies, in weight space, on a path from its start along which
the loss stays low, so points on the straight line between the two are working networks.
The midpoint of a fine-tuned model and its start often does better than either on data that
neither was tuned on, keeping what the start knew as well as what the fine-tuning added
(Wortsman et al., "Robust fine-tuning of zero-shot models", 2022, which calls it WiSE-FT;
mixing equal parts is their default). It costs nothing at inference: the average is one network.

The camera model is such a midpoint (docs/real-noise.md). The checkpoints must hold the same
network (the same architecture settings, the same weight names and shapes); the average is
written with the configuration, optimizer state and epoch count of the last one.
"""
from __future__ import annotations

import math

#: Configuration keys that describe how a network was trained, not what it is: they may differ.
TRAINING_KEYS = ("lr", "seed", "device", "precision", "optimizer", "momentum", "batch_size")


def check_weights(weights, count: int) -> list[float]:
    """``weights`` as floats: ``count`` of them, each finite and at least 0, summing to 1."""
    weights = [float(w) for w in weights]
    if len(weights) != count:
        raise ValueError(f"{count} checkpoints need {count} weights, got {len(weights)}: {weights}")
    if not all(math.isfinite(w) and w >= 0 for w in weights) or abs(sum(weights) - 1) > 1e-6:
        raise ValueError(f"the weights must be numbers of at least 0 that sum to 1, got {weights}")
    return weights


def average_checkpoints(model_class, paths, weights=None, device: str = "cpu"):
    """A model of ``model_class`` holding the weighted mean of the weights in ``paths``
    (equal weights by default), with the last checkpoint's configuration, optimizer state and
    epoch count; ``ValueError`` if they are not checkpoints of one network."""
    if len(paths) < 2:
        raise ValueError(f"averaging needs at least two checkpoints, got {len(paths)}")
    weights = check_weights([1 / len(paths)] * len(paths) if weights is None else weights, len(paths))
    models = []
    for path in paths:
        model = model_class(device=device)
        model.load_model(path)
        models.append(model)
    network = {key: value for key, value in models[-1].config.items() if key not in TRAINING_KEYS}
    states = [model.net.state_dict() for model in models]
    for path, model, state in zip(paths, models, states):
        differ = sorted(key for key, value in network.items() if model.config.get(key) != value)
        if differ:
            raise ValueError(f"{path}: not the network of {paths[-1]} (they differ in {', '.join(differ)})")
        if {key: tuple(t.shape) for key, t in state.items()} != {key: tuple(t.shape) for key, t in states[-1].items()}:
            raise ValueError(f"{path}: its weights are not named and shaped as those of {paths[-1]}")
    mean = {key: sum(w * state[key].double() for w, state in zip(weights, states)).to(tensor.dtype)
            for key, tensor in states[-1].items()}
    models[-1].net.load_state_dict(mean)
    return models[-1]
