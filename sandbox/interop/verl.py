"""verl adapters: a ``compute_score`` for the sandbox's tasks, and its advantage estimators in
verl's calling convention.

**Reward.** verl's reward manager calls ``compute_score(data_source, solution_str, ground_truth,
extra_info)`` per response, with the first, third and fourth taken from the dataset row. The
encoding used here (``verl_row`` writes it):

    data_source   "reward-sandbox/<task>:<config JSON>"   e.g.
                  'reward-sandbox/arithmetic:{"confidence_line":false,"long_answer":false,...}'
                  the task's registry name (``toy_envs.TASKS``) and every config field, keys sorted
    ground_truth  the gold answer (the content of the gold solution's answer line after ``#``)
    extra_info    {"index": <problem index>, "split": "train" | "eval"}   (verl's usual keys)

``compute_score`` rebuilds the task from ``data_source`` and the problem from ``extra_info``
(problems are a pure function of (config, split, index)), checks that ``ground_truth`` is that
problem's gold answer (a dataset written for another config fails loudly instead of scoring
against the wrong problem), and returns ``float(task.score(problem, solution_str).correct)``:
1.0 or 0.0, the sandbox's outcome reward.

**Advantages.** verl calls a registered advantage estimator as
``fn(token_level_rewards, response_mask, index, config=..., ...)`` on response-only tensors
[B, L] (``index``: each row's prompt uid) and expects ``(advantages, returns)``. ``verl_estimator``
wraps a sandbox estimator that way: rows with equal ``index`` form a group, ``epsilon`` becomes the
estimator's ``eps`` where it has one, and the result is returned twice, as verl's critic-free
estimators do. ``register_with_verl`` adds every such estimator to verl's registry as
``sandbox_<name>`` (``algorithm.adv_estimator=sandbox_grpo``). Two estimators need care:

- ``process_grpo`` reads step ids, which verl does not pass. They are derived from the rewards: a
  step ends at each response token with a nonzero reward and at the last response token. This is
  the sandbox's convention (step rewards on step ends) except that a step whose reward is exactly
  0 merges into the next one, so its 0 is left out of the group's step-reward statistics.
- ``tree_grpo`` reads tree ids from ``Rollouts.extras``, which verl does not have: not exported.
  Nor is a critic-based estimator (GAE needs the value model's values; verl has its own ``gae``).

Where the sandbox and verl differ (checked by ``tests/test_interop_verl.py`` against
``verl.trainer.ppo.core_algos`` when verl is installed):

- A group of one row. verl's grpo, rloo and reinforce_plus_plus_baseline keep the row's raw
  reward (its baseline is 0; grpo divides by std 1 + ε); the sandbox gives such a row advantage 0
  (grpo, rloo) or a centred 0 before whitening (rpp_baseline): it has no group to compare with.
- Groups of equal rewards: the sandbox's group mean is exactly the common value, so the advantage
  is exactly 0; verl's float mean may differ by rounding, which grpo then divides by ε.
- rpp_baseline's whitening: verl divides by sqrt(var + 1e-8), the sandbox by (std + eps); both use
  the unbiased variance over all response tokens of the batch.
- GRPO's std is unbiased (n − 1) in both.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import numbers
from collections.abc import Callable, Sequence
from functools import cache

import torch

import toy_envs
from sandbox.rewards.registry import ESTIMATOR_EXTRAS, ESTIMATORS
from toy_envs.base import SPLITS, check

DATA_SOURCE_PREFIX = "reward-sandbox/"
VERL_PREFIX = "sandbox_"
EXPORTED_ESTIMATORS = ("grpo", "dr_grpo", "rloo", "rpp_baseline", "return_to_go", "process_grpo")
"""The sandbox estimators that verl's calling convention carries: rewards, mask and group only."""
STEP_ID_ESTIMATORS = ("process_grpo",)
"""Estimators that read step ids (derived from the reward positions for verl)."""


def task_name(task) -> str:
    """The task's key in ``toy_envs.TASKS``."""
    names = [name for name, cls in toy_envs.TASKS.items() if type(task) is cls]
    check(bool(names), "task", f"an instance of one of {sorted(toy_envs.TASKS)}", type(task).__name__)
    return names[0]


def data_source(task) -> str:
    """``"reward-sandbox/<task>:<config JSON>"`` for ``task`` (every init field, keys sorted)."""
    fields = {f.name: getattr(task, f.name) for f in dataclasses.fields(task) if f.init}
    return f"{DATA_SOURCE_PREFIX}{task_name(task)}:{json.dumps(fields, sort_keys=True, separators=(',', ':'))}"


@cache
def task_from_data_source(source: str):
    """The task a ``data_source`` string names (built once per process); ``ConfigError`` for a
    string this module did not write."""
    allowed = f"'{DATA_SOURCE_PREFIX}<task>:<config JSON>' with a task among {sorted(toy_envs.TASKS)}"
    check(isinstance(source, str) and source.startswith(DATA_SOURCE_PREFIX) and ":" in source, "data_source", allowed, source)
    name, _, config = source[len(DATA_SOURCE_PREFIX) :].partition(":")
    try:
        fields = json.loads(config)
    except json.JSONDecodeError:
        fields = None
    check(isinstance(fields, dict), "data_source", allowed, source)
    return toy_envs.make_task(name, **fields)


def gold_answer(task, problem) -> str:
    """The gold solution's answer (the answer line after ``#``) as the task reads it."""
    return task.score(problem, task.gold_solution(problem)).answer


def verl_row(task, index: int, split: str = "train") -> dict:
    """One row of a verl RL dataset (write a list of them to parquet): ``data_source``, the prompt as
    one user message, ``reward_model.ground_truth`` and ``extra_info`` (see the module docstring)."""
    problem = task.problem(index, split)
    return {
        "data_source": data_source(task),
        "prompt": [{"role": "user", "content": task.prompt(problem)}],
        "ability": "reasoning",
        "reward_model": {"style": "rule", "ground_truth": gold_answer(task, problem)},
        "extra_info": {"index": index, "split": split},
    }


def compute_score(data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None, **kwargs) -> float:
    """1.0 if ``solution_str`` answers the problem that ``data_source`` and ``extra_info`` name, else
    0.0; ``ConfigError`` for a malformed row, ``ValueError`` when ``ground_truth`` is not that
    problem's gold answer. Extra keyword arguments from verl's reward manager are ignored."""
    task = task_from_data_source(data_source)
    info = extra_info or {}
    index, split = info.get("index"), info.get("split", "train")
    integral = isinstance(index, numbers.Integral) and not isinstance(index, bool)
    check(integral and index >= 0, "extra_info.index", "an integer >= 0 (the problem index)", index)
    check(split in SPLITS, "extra_info.split", f"one of {SPLITS}", split)
    index = int(index)
    problem = task.problem(index, split)
    expected = gold_answer(task, problem)
    if str(ground_truth) != expected:
        raise ValueError(
            f"ground_truth={ground_truth!r} is not the gold answer {expected!r} of problem {index} ({split}) of "
            f"{data_source}: the dataset was written for another task config"
        )
    return float(task.score(problem, solution_str).correct)


def group_ids(index: Sequence) -> torch.Tensor:
    """[B] long: rows with equal ``index`` values (verl's uids: strings, ints) share an id, numbered
    in order of first appearance."""
    first: dict = {}
    return torch.tensor([first.setdefault(value, len(first)) for value in list(index)], dtype=torch.long)


def reward_step_ids(rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B, L] step ids from reward positions: a step ends at each response token with a nonzero
    reward and at the row's last response token; −1 off the response."""
    ends_before = torch.nn.functional.pad(((rewards != 0) & mask).long().cumsum(1)[:, :-1], (1, 0))
    return torch.where(mask, ends_before, torch.full_like(ends_before, -1))


def exported_estimators() -> list[str]:
    """The registered ``EXPORTED_ESTIMATORS`` (none reads ``Rollouts.extras``)."""
    return [name for name in EXPORTED_ESTIMATORS if name in ESTIMATORS and not ESTIMATOR_EXTRAS.get(name)]


def verl_estimator(name: str, **options) -> Callable:
    """The sandbox estimator ``name`` (with estimator ``options``) as a verl advantage estimator:
    ``fn(token_level_rewards, response_mask, index, epsilon=1e-6, config=None, **kwargs)`` ->
    ``(advantages, returns)``, both the estimator's [B, L] advantages."""
    check(name in exported_estimators(), "estimator", f"one of {exported_estimators()}", name)
    estimator = ESTIMATORS[name]
    takes_eps = "eps" in inspect.signature(estimator).parameters
    reads_steps = name in STEP_ID_ESTIMATORS

    def advantage(token_level_rewards, response_mask, index, epsilon: float = 1e-6, config=None, **kwargs):
        check(index is not None and len(index) == len(token_level_rewards), "index", "one group uid per row", index)
        mask = response_mask.bool()
        rewards = token_level_rewards.float()
        steps = reward_step_ids(rewards, mask) if reads_steps else torch.full(mask.shape, -1, device=mask.device)
        eps = {"eps": epsilon} if takes_eps else {}
        advantages = estimator(rewards, mask, group_ids(index).to(mask.device), steps, **eps, **options)
        return advantages, advantages

    advantage.__name__ = f"{VERL_PREFIX}{name}"
    advantage.__doc__ = f"The sandbox's {name!r} advantage estimator in verl's calling convention."
    return advantage


@cache
def registered_estimator(name: str) -> Callable:
    """The one adapter per estimator that ``register_with_verl`` registers (so registering twice is
    harmless)."""
    return verl_estimator(name)


def register_with_verl() -> list[str]:
    """Register every exported estimator in verl's advantage-estimator registry as
    ``sandbox_<name>``; returns those names. ``ImportError`` when verl is not installed."""
    try:
        from verl.trainer.ppo.core_algos import register_adv_est
    except ImportError as err:
        raise ImportError(
            "verl is not importable: install it (its core_algos needs ray, tensordict, omegaconf, "
            "codetiming and orjson) to register the sandbox's estimators"
        ) from err
    names = []
    for name in exported_estimators():
        register_adv_est(f"{VERL_PREFIX}{name}")(registered_estimator(name))
        names.append(f"{VERL_PREFIX}{name}")
    return names


__all__ = [
    "compute_score",
    "data_source",
    "group_ids",
    "register_with_verl",
    "reward_step_ids",
    "task_from_data_source",
    "verl_estimator",
    "verl_row",
]
