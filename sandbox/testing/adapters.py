"""Adapters: check a TRL-style or a verl-style advantage function as it is, without rewriting it.

    from sandbox.testing import check_advantage_estimator, from_trl, from_verl

    check_advantage_estimator(from_trl(my_trl_advantages, num_generations=4), kind="outcome_group")
    check_advantage_estimator(from_verl(compute_grpo_outcome_advantage, epsilon=1e-6), kind="outcome_group")

The kit calls an estimator as ``fn(rewards [B,T], mask [B,T] bool, group [B], step_ids [B,T])``
and wants advantages [B, T] back (``estimator_checks.SIGNATURE``). An adapter turns that call into
the other library's convention and declares the contract that library is written for
(``fn.kit_contract``, read by ``check_advantage_estimator``):

- ``from_trl(fn, num_generations)``: ``fn(rewards [B], num_generations) -> advantages [B]``, as
  TRL's ``GRPOTrainer`` computes them -- one scalar reward per completion, the completions of a
  prompt side by side in contiguous blocks of ``num_generations`` (no group ids). The adapter
  hands ``fn`` each row's summed response reward and spreads the returned advantage over the
  row's response tokens. Contract: contiguous groups of exactly ``num_generations`` rows.
- ``from_verl(fn, lone_row="raw", **options)``: ``fn(token_level_rewards [B,T],
  response_mask [B,T], index [B] (numpy array of group ids), **options) -> (advantages,
  returns)``, as verl's ``core_algos.compute_grpo_outcome_advantage(token_level_rewards,
  response_mask, index, epsilon, norm_adv_by_std_in_grpo)``. The adapter zeroes the rewards off
  the mask (verl's token rewards sit on the response only), passes the mask as floats and the
  group ids as a numpy object array of strings (verl's prompt uids), and keeps the advantages.
  Contract: any row layout; a group of one row gets its own summed reward (verl's GRPO takes
  mean 0 and std 1 for it), unless ``lone_row="zero"``.

Both hand ``fn`` float64 tensors by default (``dtype``): the kit's "equal rewards give zero"
draws rows that carry one list of per-token rewards in different orders, whose float32 sums may
differ by an ulp -- which a ``(R - mean) / (std + eps)`` estimator summing in float32 blows up
into advantages of order 0.1 (a real behaviour of float32 code on dense rewards; pass
``dtype=torch.float32`` to test it).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from toy_envs.base import ConfigError, check, is_int


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def from_trl(fn: Callable, num_generations: int, dtype: torch.dtype = torch.float64) -> Callable:
    """An estimator for ``check_advantage_estimator`` from a TRL-style ``fn(rewards [B],
    num_generations) -> advantages [B]`` (see the module docstring); declares contiguous groups of
    ``num_generations`` rows."""
    check(is_int(num_generations) and num_generations >= 1, "num_generations", "an int >= 1", num_generations)
    name = getattr(fn, "__name__", type(fn).__name__)

    def estimator(rewards, mask, group, step_ids):
        n_rows = len(group)
        blocks = group.view(-1, num_generations) if n_rows % num_generations == 0 else None
        require(
            blocks is not None and bool((blocks == blocks[:, :1]).all()) and len(set(blocks[:, 0].tolist())) == len(blocks),
            f"from_trl({name}): the batch's groups are not contiguous blocks of num_generations={num_generations} "
            f"rows (group ids {group.tolist()}); check with group_size={num_generations}",
        )
        scores = torch.where(mask, rewards.to(dtype), 0).sum(1)
        out = fn(scores, num_generations)
        require(
            isinstance(out, torch.Tensor) and out.shape == (n_rows,),
            f"from_trl({name}): returned {type(out).__name__} {tuple(getattr(out, 'shape', ()))}, not advantages [B] for B={n_rows}",
        )
        return torch.where(mask, out[:, None].to(rewards.dtype), 0)

    estimator.__name__ = f"from_trl({name})"
    estimator.kit_contract = {"group_size": num_generations}
    return estimator


def from_verl(fn: Callable, lone_row: str = "raw", dtype: torch.dtype = torch.float64, **options) -> Callable:
    """An estimator for ``check_advantage_estimator`` from a verl-style ``fn(token_level_rewards,
    response_mask, index, **options) -> (advantages, returns)`` (see the module docstring);
    declares ``lone_row`` ("raw": verl's convention)."""
    name = getattr(fn, "__name__", type(fn).__name__)

    def estimator(rewards, mask, group, step_ids):
        token_level_rewards = torch.where(mask, rewards.to(dtype), 0)
        index = np.array([str(g) for g in group.tolist()], dtype=object)
        out = fn(token_level_rewards, mask.to(dtype), index, **options)
        require(
            isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], torch.Tensor),
            f"from_verl({name}): returned {type(out).__name__}, not the pair (advantages [B,T], returns [B,T])",
        )
        return out[0].to(rewards.dtype)

    estimator.__name__ = f"from_verl({name})"
    estimator.kit_contract = {"lone_row": lone_row}
    return estimator
