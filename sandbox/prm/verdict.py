"""A generative judge's score of a step: the probability of "good" among the two verdict tokens.

    s = P(yes) / (P(yes) + P(no)) = σ(z_yes − z_no)

at the position where the judge writes its verdict, from the next-token logits z (the softmax
restricted to the two verdict tokens; the other tokens' mass drops out). The ThinkPRM judge
(``sandbox.prm.generative``, ``Y``/``N`` after each verification line) and the StepWiser chunk
judge (``sandbox.prm.stepwiser_judge``) both score with it.
"""

from __future__ import annotations

import torch

from toy_envs.base import check

FORMS = ("sigmoid", "pair_softmax")
"""Two float32 evaluations of the same number: ``sigmoid`` = σ(z_yes − z_no) (the ThinkPRM judge),
``pair_softmax`` = softmax([z_yes, z_no])[0] (the StepWiser judge). They differ in the last bit
for about a quarter of inputs (at most ~1e-7), so each judge keeps its own and its scores stay
bit-identical to before."""


def verdict_probability(logits: torch.Tensor, yes: int, no: int, form: str = "sigmoid") -> torch.Tensor:
    """[...] P(yes) / (P(yes) + P(no)) from next-token logits [..., V] (float32)."""
    check(form in FORMS, "form", f"one of {FORMS}", form)
    logits = logits.float()
    if form == "sigmoid":
        return torch.sigmoid(logits[..., yes] - logits[..., no])
    return logits[..., [yes, no]].softmax(-1)[..., 0]
