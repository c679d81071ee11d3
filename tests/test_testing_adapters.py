"""The kit on third-party code: a TRL-style and a verl-style GRPO, written here from the published
equations, checked through ``from_trl`` / ``from_verl`` with their contracts; a broken variant of
each is caught with a short message; a function of the wrong shape is refused in one line.

TRL's GRPOTrainer: one summed reward per completion, completions in contiguous blocks of
``num_generations``; A_i = (r_i - mean_g) / (std_g + 1e-4), std with Bessel's correction.
verl's ``compute_grpo_outcome_advantage(token_level_rewards, response_mask, index, epsilon,
norm_adv_by_std_in_grpo)``: the score is the sum of the token rewards, groups keyed by ``index``,
a group of one row gets mean 0 and std 1 (its raw score), A = (s - mean) / (std + epsilon) (or
s - mean), returned as (advantages, returns), both the advantage on every response token.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
import torch

from sandbox.testing import InvariantError, check_advantage_estimator, from_trl, from_verl
from toy_envs.base import ConfigError

EXAMPLES = 25
"""Examples per check here (the CI profile's 40 is for the sandbox's own pieces)."""


def trl_grpo(rewards: torch.Tensor, num_generations: int) -> torch.Tensor:
    grouped = rewards.view(-1, num_generations)
    mean = grouped.mean(dim=1).repeat_interleave(num_generations)
    std = grouped.std(dim=1).repeat_interleave(num_generations)
    return (rewards - mean) / (std + 1e-4)


def trl_grpo_misaligned(rewards: torch.Tensor, num_generations: int) -> torch.Tensor:
    """Broken: ``repeat`` where ``repeat_interleave`` is meant, so row i gets group i mod n's statistics."""
    grouped = rewards.view(-1, num_generations)
    mean = grouped.mean(dim=1).repeat(num_generations)
    std = grouped.std(dim=1).repeat(num_generations)
    return (rewards - mean) / (std + 1e-4)


def verl_grpo(token_level_rewards, response_mask, index, epsilon: float = 1e-6, norm_adv_by_std_in_grpo: bool = True,
              apply_mask: bool = True):
    scores = token_level_rewards.sum(dim=-1)
    by_index = defaultdict(list)
    for i in range(len(scores)):
        by_index[index[i]].append(scores[i])
    mean, std = {}, {}
    for key, values in by_index.items():
        if len(values) == 1:
            mean[key], std[key] = torch.tensor(0.0), torch.tensor(1.0)
        else:
            stacked = torch.stack(values)
            mean[key], std[key] = stacked.mean(), stacked.std()
    scores = scores.clone()
    for i in range(len(scores)):
        centred = scores[i] - mean[index[i]]
        scores[i] = centred / (std[index[i]] + epsilon) if norm_adv_by_std_in_grpo else centred
    advantages = scores.unsqueeze(-1) * (response_mask if apply_mask else torch.ones_like(response_mask))
    return advantages, advantages


def verl_grpo_unmasked(token_level_rewards, response_mask, index, epsilon: float = 1e-6):
    """Broken: the advantage is spread over every position, prompt and padding included."""
    return verl_grpo(token_level_rewards, response_mask, index, epsilon, apply_mask=False)


def test_faithful_trl_grpo_passes_through_from_trl():
    check_advantage_estimator(from_trl(trl_grpo, num_generations=4), kind="outcome_group", max_examples=EXAMPLES)


def test_faithful_trl_grpo_matches_the_kits_grpo_with_trls_eps():
    check_advantage_estimator(from_trl(trl_grpo, num_generations=3), kind="grpo", reference_options={"eps": 1e-4},
                              max_examples=EXAMPLES)


def test_faithful_verl_grpo_passes_through_from_verl():
    check_advantage_estimator(from_verl(verl_grpo), kind="grpo", max_examples=EXAMPLES)
    check_advantage_estimator(from_verl(verl_grpo, norm_adv_by_std_in_grpo=False), kind="dr_grpo", max_examples=EXAMPLES)


def short_failure(fn, **kwargs) -> InvariantError:
    """The InvariantError ``check_advantage_estimator`` raises for ``fn``, checked to be short and
    free of hypothesis' dump and of the kit's frames."""
    with pytest.raises(InvariantError) as caught:
        check_advantage_estimator(fn, max_examples=EXAMPLES, **kwargs)
    text = str(caught.value)
    assert len(text.splitlines()) <= 40, text
    assert "Falsifying" not in text and "Failing test case" not in text and not getattr(caught.value, "__notes__", None)
    shown = [str(entry.path) for entry in caught.traceback.filter(caught)]  # what pytest prints
    assert shown and all("sandbox/testing" not in path and "hypothesis" not in path for path in shown), shown
    return caught.value


def test_broken_trl_grpo_is_caught_with_a_short_message():
    error = short_failure(from_trl(trl_grpo_misaligned, num_generations=3), kind="outcome_group")
    assert error.invariant in {"equal rewards give zero", "group shift", "group locality", "row permutation"}, error


def test_broken_verl_grpo_is_caught_with_a_short_message():
    error = short_failure(from_verl(verl_grpo_unmasked), kind="outcome_group")
    assert error.invariant == "zero off the mask", error


def test_verl_grpo_needs_its_lone_row_contract():
    error = short_failure(from_verl(verl_grpo, lone_row="zero"), kind="outcome_group")
    assert error.invariant == "equal rewards give zero" and "one row" in error.demand, error


def test_a_trl_style_function_is_refused_in_one_line():
    with pytest.raises(ConfigError) as caught:
        check_advantage_estimator(trl_grpo, kind="outcome_group")
    message = str(caught.value)
    assert "\n" not in message and "from_trl" in message and "trl_grpo(rewards, num_generations)" in message


def test_from_trl_refuses_a_batch_that_breaks_its_contract():
    with pytest.raises(ConfigError, match="not contiguous blocks of num_generations=4"):
        check_advantage_estimator(from_trl(trl_grpo, num_generations=4), group_size=3, max_examples=5)


def test_a_crash_in_the_estimator_keeps_its_own_frames_and_shows_the_batch():
    def crashes(rewards, mask, group, step_ids):
        return rewards[:, None][5]  # IndexError for batches of fewer than 6 rows

    with pytest.raises(InvariantError) as caught:
        check_advantage_estimator(crashes, max_examples=5)
    assert caught.value.invariant == "runs" and "IndexError" in str(caught.value)
    cause_frames = []
    tb = caught.value.__cause__.__traceback__
    while tb is not None:
        cause_frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert cause_frames == ["crashes"]
