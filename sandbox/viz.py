"""Pictures of what the reward pieces produce: token heat maps for any [B, T] tensor, and curves.

    token_heatmap(values [B,T], tokens [B,T] | texts)   one row of coloured cells per rollout,
                                                        each cell one token, coloured by its value
    plot_curves({run: [metrics, ...]}, metric)          one line per run over the logged steps
    plot_pass_at_k({label: metrics}, n)                 pass@k and process pass@k against k (log2)

Token rewards, advantages, loss weights and step ids are all [B, T] tensors aligned with
``Rollouts.tokens``, so one function draws them all. Colours are on one diverging scale shared
by every drawn row and centred on ``center`` (0 for advantages: red below, blue above with the
default ``RdBu``). Only the object API is used (a ``matplotlib.figure.Figure`` when no axes is
given), so nothing depends on pyplot's global state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.collections import PatchCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from sandbox.model.tokenizer import CharTokenizer

NEWLINE_MARKER = "⏎"
SPECIAL_MARKERS = {"<pad>": "·", "<bos>": "⊢", "<eos>": "⊣", "<sep>": "§"}
"""What a cell shows for a special token (an unknown one shows its name's first letter)."""


def token_label(token_id: int, tokenizer) -> str:
    """The short text of one token's cell: its character, ``⏎`` for a newline, a marker for a
    special token."""
    specials = getattr(tokenizer, "specials", ())
    if 0 <= token_id < len(specials):
        name = specials[token_id]
        return SPECIAL_MARKERS.get(name, name.strip("<>")[:1] or "?")
    text = tokenizer.decode([token_id])
    return char_label(text) if text else "?"


def char_label(text: str) -> str:
    return text.replace("\n", NEWLINE_MARKER)


def _as_2d(x: torch.Tensor, name: str) -> torch.Tensor:
    x = torch.as_tensor(x).detach().cpu()
    if x.dim() == 1:
        x = x[None]
    if x.dim() != 2:
        raise ValueError(f"{name} must be [B, T] or [T], got shape {tuple(x.shape)}")
    return x


def _row_cells(values, tokens, mask, tokenizer, r: int) -> tuple[list[float], list[str]]:
    """(values, labels) of the drawn cells of row ``r``, in token order."""
    width = values.shape[1]
    if isinstance(tokens, torch.Tensor):
        labels = [token_label(int(t), tokenizer) for t in tokens[r].tolist()]
    else:
        labels = [char_label(c) for c in tokens[r][:width]]
    keep = [t for t in range(len(labels)) if mask is None or bool(mask[r, t])]
    return [float(values[r, t]) for t in keep], [labels[t] for t in keep]


def token_heatmap(
    values: torch.Tensor,
    tokens: torch.Tensor | Sequence[str] | str,
    tokenizer=None,
    rows: Sequence[int] | torch.Tensor | None = None,
    ax: Axes | None = None,
    cmap: str = "RdBu",
    center: float = 0.0,
    title: str | None = None,
    mask: torch.Tensor | None = None,
    label: str | None = None,
    fontsize: float = 9.0,
) -> Axes:
    """Draw ``values`` as coloured cells labelled with their tokens; returns the axes.

    ``values`` [B, T] (or [T]) is any per-token quantity. ``tokens`` is the [B, T] token ids
    (decoded with ``tokenizer``, the character tokenizer by default) or B texts whose
    character t is token t. ``rows`` picks and orders the rows drawn (top to bottom; default
    all). Positions where ``mask`` [B, T] is False are not drawn, and each row's drawn cells
    are packed to the left, so with ``mask=rollouts.response_mask`` every response starts in
    the first column. The colour scale is symmetric about ``center``, shared by all rows, and
    shown by a colorbar (titled ``label``).
    """
    values = _as_2d(values, "values").float()
    if isinstance(tokens, str):
        tokens = [tokens]
    if isinstance(tokens, torch.Tensor):
        tokens = _as_2d(tokens, "tokens")
        if tokens.shape != values.shape:
            raise ValueError(f"tokens has shape {tuple(tokens.shape)} but values has {tuple(values.shape)}")
        tokenizer = tokenizer or CharTokenizer()
    elif len(tokens) != values.shape[0]:
        raise ValueError(f"{len(tokens)} texts for {values.shape[0]} rows of values")
    if mask is not None:
        mask = _as_2d(mask, "mask").bool()
        if mask.shape != values.shape:
            raise ValueError(f"mask has shape {tuple(mask.shape)} but values has {tuple(values.shape)}")
    rows = list(range(values.shape[0])) if rows is None else [int(r) for r in torch.as_tensor(rows).flatten()]
    for r in rows:
        if not 0 <= r < values.shape[0]:
            raise ValueError(f"row {r} is out of range for {values.shape[0]} rows")

    cells = [_row_cells(values, tokens, mask, tokenizer, r) for r in rows]
    drawn = [v for row_values, _ in cells for v in row_values if v == v and abs(v) != float("inf")]
    spread = max((abs(v - center) for v in drawn), default=0.0) or 1.0
    norm = Normalize(center - spread, center + spread)
    colours = colormaps[cmap]
    n_cols = max((len(row_labels) for _, row_labels in cells), default=0)

    if ax is None:
        fig = Figure(figsize=(min(2.5 + 0.28 * max(n_cols, 4), 24.0), 0.9 + 0.36 * max(len(rows), 1)))
        ax = fig.add_subplot()
    patches, patch_values = [], []
    for y, (row_values, row_labels) in enumerate(cells):
        for x, (v, text) in enumerate(zip(row_values, row_labels)):
            patches.append(Rectangle((x, y), 1.0, 1.0))
            patch_values.append(v)
            red, green, blue, _ = colours(norm(v))
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
            ax.text(
                x + 0.5, y + 0.5, text, ha="center", va="center", fontsize=fontsize,
                color="white" if dark else "black", family="monospace", parse_math=False,
            )
    collection = PatchCollection(patches, cmap=colours, norm=norm, edgecolor="white", linewidth=0.5)
    collection.set_array(patch_values)
    ax.add_collection(collection)
    ax.set_xlim(0, max(n_cols, 1))
    ax.set_ylim(max(len(rows), 1), 0)
    ax.set_yticks([y + 0.5 for y in range(len(rows))], [f"row {r}" for r in rows])
    ax.set_xticks([])
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(left=False)
    colorbar = ax.figure.colorbar(collection, ax=ax, fraction=0.04, pad=0.02)
    if label:
        colorbar.set_label(label)
    if title:
        ax.set_title(title)
    return ax


def plot_curves(histories: Mapping[str, Sequence[Mapping]], metric: str, ax: Axes | None = None, x: str = "step") -> Axes:
    """One line per run: ``metric`` against ``x`` over the run's metric dicts that have both
    (evaluation metrics appear only every few steps; the other dicts are skipped)."""
    if ax is None:
        ax = Figure(figsize=(5.5, 3.5)).add_subplot()
    whole = True
    for name, history in histories.items():
        points = [(m[x], m[metric]) for m in history if metric in m and x in m]
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        whole = whole and all(isinstance(v, int) for v in xs)
        ax.plot(xs, ys, marker="o" if len(points) <= 40 else None, markersize=3, label=name)
    if whole:  # steps: no ticks between them
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    if histories:
        ax.legend()
    return ax


def plot_run(history: Sequence[Mapping], title: str) -> Figure:
    """A run's accuracy curves from its ``metrics.jsonl`` lines: held-out greedy accuracy
    (``eval/accuracy``) and the training rollouts' accuracy (``rollout/accuracy``; their mean
    reward ``rollout/reward_mean`` for variants that do not consult the verifier) against the RL
    updates done (a line's ``step`` + 1: the evaluation logged as step -1, before the first
    update, sits at 0). The legend sits below the axes, outside them, so it covers no point."""
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    done = [{**m, "updates": m["step"] + 1} for m in history if "step" in m]
    rollout = "rollout/accuracy" if any("rollout/accuracy" in m for m in done) else "rollout/reward_mean"
    plot_curves({"greedy, held-out": done}, "eval/accuracy", ax=ax, x="updates")
    plot_curves({f"{rollout.split('/')[1].replace('_', ' ')} of the training rollouts": done}, rollout, ax=ax, x="updates")
    ax.set_title(title)
    ax.set_xlabel("RL updates")
    ax.set_ylabel("accuracy" if rollout == "rollout/accuracy" else "accuracy / mean reward")
    ax.get_legend().remove()  # plot_curves' legend, inside the axes
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, frameon=False)
    return fig


def plot_pass_at_k(curves: Mapping[str, Mapping], n: int, prefix: str = "eval/") -> Figure:
    """Two panels, pass@k and process pass@k against k = 1, 2, 4, ..., n on a log2 axis, one line
    per label from its metrics (``<prefix>pass@k``, ``<prefix>process_pass@k``; ``reward-sandbox
    eval --pass-k n``): a curve that rises with k shows problems the model solves only sometimes."""
    from sandbox.eval.pass_at_k import curve_ks

    ks = curve_ks(n)
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    for ax, head in zip(fig.subplots(1, 2), ("pass", "process_pass")):
        for label, metrics in curves.items():
            ax.plot(ks, [metrics[f"{prefix}{head}@{k}"] for k in ks], marker="o", markersize=3, label=label)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlabel("k (samples per problem)")
        ax.set_ylabel(head.replace("_", " ") + "@k")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
