"""Training curves as a PNG (``ecgssl pretrain --plot``); matplotlib is the ``[plot]`` extra."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ecgssl.cli._common import UserError
from ecgssl.errors import InvalidValueError

__all__ = ["HEALTH_KEYS", "plot_history", "require_matplotlib"]

#: Representation-health statistics plotted when the history has them.
HEALTH_KEYS = ("embedding_std", "relative_variance", "effective_rank", "intra_lead_cos",
               "inter_lead_cos")  # fmt: skip
_NOT_LOSS = {"epoch", "step", "lr", "momentum", "seconds", "samples_per_s", *HEALTH_KEYS}


def require_matplotlib(what: str) -> None:
    """Raise a one-line :class:`UserError` when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError(
            f"{what} needs matplotlib: pip install 'ecgssl[plot]' (or pip install matplotlib)"
        ) from None


def _finite(values: Sequence[Any]) -> bool:
    return any(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def plot_history(history: Sequence[dict[str, float]], path: str | Path, title: str = "") -> Path:
    """Plot the loss terms, the learning rate, any representation-health keys (bare or
    ``health/...``) and any online-monitor metric (``monitor/...``) per epoch.

    Args:
        history: ``PretrainResult.history`` (one dict per epoch).
        path: PNG to write (folders are created).
        title: Figure title (e.g. the method).

    Returns:
        ``path``.
    """
    require_matplotlib("plotting")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        raise InvalidValueError("the training history is empty: nothing to plot")
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    keys = [k for k in history[0] if k in history[-1]]
    losses = [k for k in keys if k not in _NOT_LOSS and "/" not in k]
    panels: list[tuple[str, list[str]]] = [("loss", losses), ("learning rate", ["lr"])]
    panels += [(k, [name]) for k in HEALTH_KEYS for name in (k, f"health/{k}") if name in keys]
    every_key = dict.fromkeys(k for h in history for k in h)  # the monitor may skip epochs
    monitor = [k for k in every_key if k.startswith("monitor/") and k != "monitor/seconds"]
    panels.append(("online monitor (val)", monitor))
    panels = [
        (t, ks) for t, ks in panels if ks and _finite([h.get(k) for h in history for k in ks])
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2), squeeze=False)
    for ax, (name, ks) in zip(axes[0], panels):
        for k in ks:
            ax.plot(epochs, [h.get(k, math.nan) for h in history], marker="o", ms=3, label=k)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if len(ks) > 1:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
