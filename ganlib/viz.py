"""Pictures: sample grids with row labels, loss curves, input/output/target side by side,
and strips of many outputs for one input. Images are tensors in [-1, 1], ``(N, C, H, W)``."""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import matplotlib.pyplot as plt
import torch
from torchvision.utils import make_grid


def to_image(images: torch.Tensor, nrow: int = 8, padding: int = 2) -> torch.Tensor:
    """A grid of ``images`` in [-1, 1] as an ``(H, W, C)`` tensor in [0, 1] for ``imshow``."""
    if images.dim() != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    grid = make_grid(
        images.detach().float().cpu().clamp(-1, 1),
        nrow=nrow,
        padding=padding,
        normalize=True,
        value_range=(-1, 1),
        pad_value=1.0,
    )
    return grid.permute(1, 2, 0)


def show_grid(
    images: torch.Tensor,
    nrow: int = 8,
    row_labels: Optional[Sequence[str]] = None,
    title: Optional[str] = None,
    ax=None,
    scale: float = 0.6,
):
    """Show ``images`` in rows of ``nrow``; ``row_labels`` name the rows (e.g. one per class)."""
    n_rows = -(-len(images) // nrow)
    if row_labels is not None and len(row_labels) != n_rows:
        raise ValueError(f"{len(row_labels)} row labels for {n_rows} rows")
    if ax is None:
        h, w = images.shape[-2:]
        _, ax = plt.subplots(figsize=(max(2.0, nrow * scale * w / max(h, 1)), max(1.5, n_rows * scale)))
    grid = to_image(images, nrow=nrow)
    ax.imshow(grid.numpy(), cmap="gray" if grid.shape[-1] == 1 else None, interpolation="nearest")
    ax.set_xticks([])
    if row_labels is not None:
        cell = grid.shape[0] / n_rows
        ax.set_yticks([cell * (i + 0.5) for i in range(n_rows)])
        ax.set_yticklabels(row_labels)
    else:
        ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def plot_losses(history, names: Optional[Sequence[str]] = None, smooth: int = 20, ax=None, title: str = "losses"):
    """Loss curves from a :class:`ganlib.train.History` (moving average over ``smooth`` steps).

    Read by the loss-key scheme (:data:`ganlib.train.LOSS_KEYS`): a discriminator's losses are
    dashed, the generator side's (G, F, E and the paper's terms) solid."""
    from .train import loss_network

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    for name in names or list(history.losses):
        values = torch.tensor(history.losses[name], dtype=torch.float64)
        if smooth > 1 and len(values) >= smooth:
            kernel = torch.ones(smooth, dtype=torch.float64) / smooth
            values = torch.nn.functional.conv1d(values[None, None], kernel[None, None])[0, 0]
            steps = history.steps[smooth - 1 :]
        else:
            steps = history.steps
        dashed = (loss_network(name) or "").startswith("d")
        ax.plot(steps, values.numpy(), "--" if dashed else "-", label=name)
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend()
    return ax


def show_side_by_side(columns: Mapping[str, torch.Tensor], n: int = 4, scale: float = 1.6):
    """One row per example, one column per entry of ``columns`` (e.g. input, output, target)."""
    names = list(columns)
    n = min(n, *(len(v) for v in columns.values()))
    fig, axes = plt.subplots(n, len(names), figsize=(scale * len(names), scale * n), squeeze=False)
    for j, name in enumerate(names):
        for i in range(n):
            img = to_image(columns[name][i : i + 1], nrow=1, padding=0)
            axes[i, j].imshow(img.numpy(), cmap="gray" if img.shape[-1] == 1 else None, interpolation="nearest")
            axes[i, j].axis("off")
        axes[0, j].set_title(name)
    fig.tight_layout()
    return fig


def show_strips(inputs: torch.Tensor, outputs: torch.Tensor, title: Optional[str] = None, scale: float = 1.0):
    """Many outputs for one input: row ``i`` is ``inputs[i]`` followed by ``outputs[i, 0..K-1]``.

    ``inputs``: ``(N, C, H, W)``; ``outputs``: ``(N, K, C', H, W)``.
    """
    if outputs.dim() != 5 or len(outputs) != len(inputs):
        raise ValueError(
            f"outputs must be (N, K, C, H, W) with N = len(inputs); got {tuple(outputs.shape)} for {len(inputs)} inputs"
        )
    n, k = outputs.shape[:2]
    c = outputs.shape[2]
    ins = inputs if inputs.shape[1] == c else inputs[:, :1].expand(-1, c, -1, -1)
    rows = torch.cat([ins[:, None], outputs], dim=1).reshape(n * (k + 1), *outputs.shape[2:])
    fig, ax = plt.subplots(figsize=(scale * (k + 1), scale * n))
    show_grid(rows, nrow=k + 1, ax=ax)
    ax.set_title(title or "input | outputs for different z")
    return fig


def interactive() -> bool:
    """True in a Jupyter kernel with ipywidgets, unless ``GANLIB_STATIC=1`` (no one is there to
    move a slider: nbval and the book build set it; set it for papermill runs too)."""
    import os

    if os.environ.get("GANLIB_STATIC", "").strip() not in ("", "0"):
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def slider(images_for, values: Sequence, label: str, nrow: int = 8, title: Optional[str] = None):
    """A slider over ``values`` showing ``images_for(value)`` (images in [-1, 1], ``(N, C, H, W)``).

    In a live notebook with ipywidgets this is a slider a reader can play with; elsewhere (the
    built book, nbval, ``GANLIB_STATIC=1``, no ipywidgets) it falls back to a static grid of the
    same values, one row per value, so every page shows what the slider would.
    """
    values = list(values)
    if not values:
        raise ValueError("slider needs at least one value")
    if interactive():
        import ipywidgets as widgets

        def draw(index):
            show_grid(images_for(values[index]), nrow=nrow, title=f"{label} = {values[index]}")
            plt.show()

        return widgets.interact(draw, index=widgets.IntSlider(0, 0, len(values) - 1, description=label, readout=False))
    rows = [images_for(v)[:nrow] for v in values]
    images = torch.cat(rows)
    return show_grid(
        images,
        nrow=nrow,
        row_labels=[f"{label} = {v}" for v in values],
        title=title or f"{label}: one row per value (a slider in a live notebook)",
    )
