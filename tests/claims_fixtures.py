"""Small synthetic runs for the claim checks: just the attributes memlib.claims reads."""

from types import SimpleNamespace

import numpy as np
import pandas as pd


def score_run(scores, corrupted=None, muted=0.9, unmuted=1.0, noise_fit=1.0, preds=None):
    """A scoring run: a score table (labels 0..9) and a one-row-per-epoch history."""
    scores = np.asarray(scores, float)
    n = len(scores)
    label = np.arange(n) % 10
    pred_unmuted, pred_muted = preds if preds is not None else (label, label)
    table = pd.DataFrame(
        {
            "index": np.arange(n),
            "label": label,
            "true_label": label,
            "corrupted": np.zeros(n, bool) if corrupted is None else np.asarray(corrupted),
            "score": scores,
            "pred_unmuted": pred_unmuted,
            "pred_muted": pred_muted,
        }
    )
    history = pd.DataFrame(
        {
            "epoch": [0, 1],
            "muted_acc": [0.1, muted],
            "unmuted_acc": [0.1, unmuted],
            "unmuted_acc_corrupted": [0.0, noise_fit],
        }
    )
    return SimpleNamespace(table=table, history=history)


def history(epochs, **columns):
    """A history over epochs 0..epochs; each column a function of the epoch array, or values."""
    e = np.arange(epochs + 1)
    cols = {k: (v(e) if callable(v) else v) for k, v in columns.items()}
    return pd.DataFrame({"epoch": e, **cols})


def run(h, **attrs):
    return SimpleNamespace(history=h, **attrs)


def ramp(start, end, at):
    """Rises linearly from ``start`` (epoch 0) to ``end`` (epoch ``at``), then stays."""
    return lambda e: start + (end - start) * np.minimum(e, at) / at


def peaked(base, peak_at, height, drop):
    """Rises to ``base + height`` at ``peak_at``, then falls by ``drop`` by the last epoch."""

    def f(e):
        up = base + height * np.minimum(e, peak_at) / peak_at
        return up - drop * np.clip(e - peak_at, 0, None) / max(1, e[-1] - peak_at)

    return f
