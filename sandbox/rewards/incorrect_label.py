"""Incorrect-label reward: rewards one fixed *wrong* answer per problem.

    R(y) = 1[answer(y) = ỹ(gold)]        placed on the last response token

A spurious control from "Spurious Rewards: Rethinking Training Signals in RLVR" (Shao et al.
2025, arXiv 2506.10947), where the label is a wrong answer. Here the wrong label ỹ is derived
deterministically from the gold answer line (the task's verdict on its own gold solution, the
content after ``#``), read with the task's own answer grammar (``task.parse_answer``, which both
tasks provide; it resolves ambiguous lines such as ``-1``, an integer or the op ``-1``):

    an integer  a                  ->  a + 1
    an int list a_1,…,a_k          ->  a_1,…,a_k + 1       (add 1 to the last number)
    an op path  o_1 n_1,…,o_k n_k  ->  o_1 n_1,…,o_k (n_k + 1)   (add 1 to the last operand)

e.g. ``#14`` -> 15, ``#7,14`` -> ``7,15``, ``#*2,+3,-1`` -> ``*2,+3,-2``. A response earns 1 iff
its answer line parses to ỹ under the same grammar (so ``15`` and ``015`` match alike). With a
modulus m the label gold + 1 may equal m, a value no correct computation states.
"""

from __future__ import annotations

import torch

from sandbox.rewards.base import RewardContext, on_last_token
from sandbox.rollout.rollouts import Rollouts


def gold_answer_content(task, problem) -> str:
    """The content after ``#`` of the gold solution's answer line, as the task's own verdict
    reads it (so a trailing line such as a confidence line is not mistaken for the answer)."""
    return task.score(problem, task.gold_solution(problem)).answer


def wrong_label(gold):
    """The parsed gold answer changed in its last number (see the module docstring)."""
    if isinstance(gold, int):
        return gold + 1
    *head, last = gold
    if isinstance(last, int):
        return (*head, last + 1)
    symbol, operand = last
    return (*head, (symbol, operand + 1))


def incorrect_label(rollouts: Rollouts, ctx: RewardContext) -> torch.Tensor:
    """[B, T] float32: 1 on the last response token of rows whose answer is the wrong label."""
    task = ctx.task
    values = []
    for problem, verdict in zip(rollouts.problems, rollouts.verdicts):
        label = wrong_label(task.parse_answer(gold_answer_content(task, problem)))
        stated = None if verdict.answer is None else task.parse_answer(verdict.answer)
        values.append(float(stated is not None and stated == label))
    return on_last_token(rollouts, torch.tensor(values, device=rollouts.device))
