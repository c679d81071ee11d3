"""The trainer's side of self-distillation (SDPO, ``sandbox.rewards.sdpo``): the teacher's forward pass.

    prepare    once per step, on the kept rows: the teacher rows (prompt + feedback + response)
               from the variant's piece (``SelfDistillation.teacher_inputs``): the feedback of the
               solution level reads the row's whole group, so it is written before minibatching
    per minibatch, after the student's forward (with gradient):
               q ← policy.logits(teacher rows) under torch.no_grad, aligned to the student's positions
               loss += aggregate(piece.token_loss(student logits, q), response mask)  (the policy
               loss's aggregation, so several processes sum to one process's loss)

A reward piece never runs a model: the piece says what the teacher sees and what the loss is; the
policy's forward on the teacher's context happens here, without gradient (the stop-gradient of
the loss). The diagnostic ``first_wrong_step_auroc`` measures where the teacher's per-token
log-ratio points: the AUROC of −log q/p for "this token is inside the first wrong step".
"""

from __future__ import annotations

import torch

from sandbox.eval.calibration import auroc
from sandbox.rewards.sdpo import TeacherInputs, align_teacher_logits, token_log_ratio
from sandbox.rollout.rollouts import Rollouts
from sandbox.train import accel
from toy_envs.feedback import first_wrong_step


def teacher_logits(policy, inputs: TeacherInputs, width: int, device, precision: str = "fp32") -> torch.Tensor:
    """[B, width, V] the policy's logits on the teacher rows, without gradient, at the student's positions."""
    with torch.no_grad(), accel.autocast(device, precision):
        logits = policy.logits(inputs.tokens.to(device))
    return align_teacher_logits(logits.float(), inputs.shift, width)


def teacher_token_log_ratio(policy, rollouts: Rollouts, inputs: TeacherInputs, temperature: float = 1.0) -> torch.Tensor:
    """[B, T] log q_t(y_t) − log p_t(y_t) on the rows' tokens (CPU; 0 off the response)."""
    device = next(policy.module.parameters()).device
    with torch.no_grad():
        student = policy.logits(rollouts.tokens.to(device)).float()
        teacher = teacher_logits(policy, inputs, rollouts.tokens.shape[1], device)
        ratio = token_log_ratio(student, teacher, rollouts.tokens, temperature)
    return (ratio.cpu() * rollouts.response_mask).float()


def first_wrong_step_labels(rollouts: Rollouts) -> torch.Tensor:
    """[B, T] bool: the response token lies in its row's first wrong step (``toy_envs.feedback``)."""
    labels = torch.zeros(rollouts.tokens.shape, dtype=torch.bool)
    for b, verdict in enumerate(rollouts.verdicts):
        wrong = first_wrong_step(verdict)
        if wrong is not None:
            labels[b] = (rollouts.step_ids[b] == wrong) & rollouts.response_mask[b]
    return labels


def first_wrong_step_auroc(log_ratio: torch.Tensor, rollouts: Rollouts) -> float:
    """AUROC of the score −(log q_t − log p_t) for "token inside the first wrong step", over the
    response tokens of the rows that have a wrong step (NaN without both kinds of token): 1 when
    the teacher doubts every token of the first wrong step more than any other token, 0.5 for no
    signal."""
    labels = first_wrong_step_labels(rollouts)
    rows = labels.any(-1)
    mask = rollouts.response_mask[rows]
    values, ranks = torch.unique(-log_ratio[rows][mask].double(), return_inverse=True)
    doubt = ranks.double() / max(len(values), 1)  # into [0, 1] as auroc takes, order and ties kept exactly
    return auroc(doubt, labels[rows][mask].double())
