"""SDPO: the policy conditioned on feedback about its own attempt is its own token-level teacher.

"Reinforcement Learning via Self-Distillation" (Hübotter et al. 2026, arXiv 2601.20802). For a
response y to prompt x and feedback f about it (``toy_envs.feedback``: the oracle's words, or a
correct response of another rollout of the same problem, SDPO's implicit feedback), the student is
the policy as sampled, the teacher the same policy with f in its context:

    p_t = π_θ(· | x, y_<t)                q_t = π_θ(· | x, f, y_<t)     (both at temperature τ)
    ℓ_t = KL(p_t ‖ sg[q_t]) = Σ_v p_t(v) (log p_t(v) − log q_t(v))       over the whole vocabulary
    L_SDPO = coef · aggregate_t(ℓ_t)      on the response tokens of the student's own rollouts

with sg the stop-gradient: the teacher's logits are computed without gradient and only the
student's distribution moves (the logit-level loss of the paper, not its one-sample token
estimate). ℓ_t ≥ 0, and ℓ_t = 0 where f is empty: the teacher's context is then the student's.
Where the feedback makes the teacher doubt the sampled token, the per-token log-ratio
log q_t(y_t) − log p_t(y_t) is negative: the self-teacher's credit assignment, which the paper
reads as a dense advantage.

The teacher's context is the prompt, then the feedback with every line quoted by ``"> "``
(``teacher_prompt``), then the response: quoting keeps a quoted solution's step and answer lines
from reading as the response's own lines, and the response's tokens are the student's, so token t
of the response is scored by both. A variant declares the term (``Variant.distillation``:
``("sdpo", {"level": ..., "coef": ...})``); the trainer builds the teacher rows of its kept batch
with ``teacher_inputs``, runs the policy on them under ``torch.no_grad`` for each minibatch, aligns
the logits to the student's positions (``align_teacher_logits``) and adds ``loss`` (per-token
``token_kl``) to the policy loss with the policy loss's own aggregation
(``sandbox.train.self_distillation``). The piece loads, runs and trains no model.

Variants: ``sdpo`` is the distillation alone (no reward source: every advantage is 0, so the
PPO-clip term vanishes); ``sdpo+grpo`` adds it to outcome GRPO's loss, L = L_PPO(A_GRPO) +
coef · L_SDPO (the paper mixes the two as advantages, λ A_GRPO + (1 − λ) A_SDPO; a sum of losses
is the same direction up to the weights).

Cut down from the paper: the teacher is the current policy itself, with no EMA or trust-region
regularisation towards the initial teacher; it is evaluated at each minibatch's weights (with
``ppo_epochs`` = 1 and 2 minibatches, the second sees the weights after the first step); the
feedback is one level at a time, not the paper's combination of environment output and a
successful sibling; a correct row gets a sibling's solution at the ``solution`` level and no
feedback at the error levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check
from toy_envs.feedback import check_level, feedback

QUOTE = "> "
"""Each feedback line is written after this in the teacher's context."""


def teacher_prompt(prompt: str, feedback_text: str) -> str:
    """The teacher's prompt: ``prompt``, then each line of the feedback quoted; ``prompt`` itself
    when the feedback is empty (the teacher's context is then the student's)."""
    if not feedback_text:
        return prompt
    return prompt + "".join(f"{QUOTE}{line}\n" for line in feedback_text.split("\n") if line)


@dataclass
class TeacherInputs:
    """The teacher's rows of a batch: ``tokens`` [B, T'] right-padded (prompt with feedback, then
    the row's response tokens); ``shift`` [B] = teacher prompt length − student prompt length, so
    that the teacher's position p + shift[b] sees the same response prefix as the student's p."""

    tokens: torch.Tensor
    shift: torch.Tensor
    feedback: list[str]

    def select(self, rows: torch.Tensor) -> "TeacherInputs":
        idx = rows.tolist()
        return TeacherInputs(self.tokens[rows], self.shift[rows], [self.feedback[i] for i in idx])


def group_feedback(rollouts: Rollouts, task, level: str) -> list[str]:
    """Each row's feedback text at ``level``; a row's siblings are the other rows of its group, in order."""
    verdicts = list(rollouts.verdicts)
    groups = rollouts.group.tolist()
    out = []
    for b, (problem, verdict) in enumerate(zip(rollouts.problems, verdicts)):
        siblings = [(rollouts.texts[o], verdicts[o]) for o in range(len(rollouts)) if o != b and groups[o] == groups[b]]
        out.append(feedback(task, problem, verdict, level, siblings))
    return out


def teacher_inputs(rollouts: Rollouts, task, tokenizer, level: str) -> TeacherInputs:
    """The teacher rows of ``rollouts``: ``<bos>`` + ``teacher_prompt`` + the row's response tokens."""
    texts = group_feedback(rollouts, task, level)
    rows, shifts = [], []
    for b, text in enumerate(texts):
        prompt = tokenizer.encode(teacher_prompt(task.prompt(rollouts.problems[b]), text), bos=True)
        start, length = int(rollouts.prompt_lens[b]), int(rollouts.response_lens[b])
        rows.append(prompt + rollouts.tokens[b, start : start + length].tolist())
        shifts.append(len(prompt) - start)
    width = max(len(row) for row in rows)
    tokens = torch.full((len(rows), width), tokenizer.pad_id, dtype=torch.long)
    for b, row in enumerate(rows):
        tokens[b, : len(row)] = torch.tensor(row, dtype=torch.long)
    return TeacherInputs(tokens, torch.tensor(shifts, dtype=torch.long), texts)


def align_teacher_logits(teacher_logits: torch.Tensor, shift: torch.Tensor, width: int) -> torch.Tensor:
    """[B, width, V]: row b's teacher logits at position p + shift[b] placed at the student's
    position p (0 where that falls outside the teacher's row: never on a response prediction)."""
    b, t_teacher, v = teacher_logits.shape
    positions = torch.arange(width, device=teacher_logits.device)[None, :] + shift.to(teacher_logits.device)[:, None]
    inside = (positions >= 0) & (positions < t_teacher)
    gathered = teacher_logits.gather(1, positions.clamp(0, t_teacher - 1)[..., None].expand(b, width, v))
    return gathered * inside[..., None]


def token_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """[B, T] KL(p ‖ sg[q]) of the next-token distributions, placed at the token they predict
    (position t holds the KL of the distributions over token t, from logits at t − 1; 0 at
    position 0), as ``token_logprobs`` places log-probs. The teacher's logits are detached."""
    tau = temperature if temperature > 0 else 1.0
    log_p = (student_logits[:, :-1].float() / tau).log_softmax(-1)
    log_q = (teacher_logits[:, :-1].detach().float() / tau).log_softmax(-1)
    kl = (log_p.exp() * (log_p - log_q)).sum(-1)
    return torch.nn.functional.pad(kl, (1, 0))


def token_log_ratio(student_logits: torch.Tensor, teacher_logits: torch.Tensor, tokens: torch.Tensor,
                    temperature: float = 1.0) -> torch.Tensor:
    """[B, T] log q_t(y_t) − log p_t(y_t) of the tokens themselves (0 at position 0): the
    self-teacher's per-token credit, negative where the feedback makes the teacher doubt a token."""
    tau = temperature if temperature > 0 else 1.0
    log_p = (student_logits[:, :-1].float() / tau).log_softmax(-1)
    log_q = (teacher_logits[:, :-1].float() / tau).log_softmax(-1)
    picked = (log_q - log_p).gather(-1, tokens[:, 1:, None].to(log_p.device)).squeeze(-1)
    return torch.nn.functional.pad(picked, (1, 0))


class SelfDistillation:
    """The SDPO term a variant declares: the feedback ``level`` its teacher sees and the loss weight ``coef``."""

    def __init__(self, level: str = "solution", coef: float = 1.0):
        check_level(level)
        check(level != "none", "level", "a level that gives the teacher feedback (not 'none': the loss would be 0)", level)
        check(isinstance(coef, (int, float)) and coef > 0, "coef", "a number > 0", coef)
        self.level, self.coef = level, float(coef)

    def teacher_inputs(self, rollouts: Rollouts, task, tokenizer) -> TeacherInputs:
        return teacher_inputs(rollouts, task, tokenizer, self.level)

    def token_loss(self, student_logits: torch.Tensor, aligned_teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
        """[B, T] coef · ℓ_t, to be aggregated over the response mask like the policy loss."""
        return self.coef * token_kl(student_logits, aligned_teacher_logits, temperature)
