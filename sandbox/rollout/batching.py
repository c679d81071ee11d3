"""Two helpers every floor from ``rollout/`` up shares when it turns rows into a batch.

- ``pad_rows(rows, fill)``: ragged rows (lists of token ids, mask flags, log-probs) as one
  right-padded [B, T] tensor, T the longest row; the one copy of the padding that samplers,
  reward pieces, judges and training batches all need.
- ``evaluating(module)``: the module in eval mode for the length of a ``with`` block, and back
  in the mode it was in afterwards (also when the block raises).

They live here, the lowest floor that needs them, so that ``rollout/``, ``prm/``, ``rewards/``
and ``eval/`` can use them; ``sandbox.train.toolkit`` gathers them with the training helpers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch

from toy_envs.base import check


def pad_rows(rows: Sequence[Sequence], fill, dtype: torch.dtype = torch.long, width: int | None = None) -> torch.Tensor:
    """[len(rows), width] ``dtype`` tensor: row b holds ``rows[b]`` from column 0, ``fill`` after it.

    ``width`` defaults to the longest row (0 with no rows); a smaller one than the longest row
    is a ``ConfigError``."""
    longest = max((len(row) for row in rows), default=0)
    width = longest if width is None else width
    check(width >= longest, "width", f">= the longest row ({longest})", width)
    if all(isinstance(row, (list, tuple)) for row in rows):  # one conversion, not one per row: the same values
        return torch.tensor([[*row, *[fill] * (width - len(row))] for row in rows], dtype=dtype).reshape(len(rows), width)
    out = torch.full((len(rows), width), fill, dtype=dtype)
    for b, row in enumerate(rows):
        if len(row):
            out[b, : len(row)] = torch.as_tensor(row, dtype=dtype)
    return out


@contextmanager
def evaluating(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``module`` in eval mode inside the block; afterwards ``module.train(mode before)``.

    Eval mode switches off what only training uses (gradient checkpointing here; dropout in
    Hugging Face models). Gradients are not touched: combine with ``torch.no_grad()`` where
    none are needed."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
