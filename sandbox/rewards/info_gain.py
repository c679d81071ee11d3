"""Learning to Think (L2T): an episode-wise information-gain process reward with a compression penalty.

A response is a session of episodes z_1..z_K -- here its step lines; the answer line closes the
session and carries the outcome reward. At episode k (reasoning prefix s_k = x, z_<k):

    r_k   = [J(s_k, z_k) − J(s_k)]  −  β · C_k                     on z_k's last token
    J(s)  = log π(y* | s, #)                                        fitting information: the policy's
                                                                    log-likelihood of the reference answer
                                                                    y* when made to answer after prefix s
    C_k   = ½ Δθ_kᵀ F̂ Δθ_k                                          compression penalty: the PAC-Bayes
                                                                    KL(posterior after z_k ‖ prior before),
                                                                    in its Fisher quadratic form
    Δθ_k  = η g_k,  g_k = ∇_θ log π(z_k | s_k)                      the update the episode would make
    F̂     = (1/N) Σ_j g_j g_jᵀ over the batch's N episodes, truncated to its top ``rank`` eigenvalues

and the variant ``l2t`` adds 1[correct] on the last token, so a row's return is
1[correct] + α Σ_k r_k. The gains telescope, Σ_k [J(s_k, z_k) − J(s_k)] = J(s_K, z_K) − J(x): what
a response's episodes earn together is how much they raise the answer's likelihood, however many
there are, while every episode pays its own C_k ≥ 0 -- so an episode that adds tokens and no
information (a repeated line: gain ≈ 0) lowers the return. "Learning to Think: Information-Theoretic
Reinforcement Fine-Tuning for LLMs" (Wang et al. 2025, arXiv 2505.10425): the dense process reward
= fitting information gain minus parameter compression penalty, the penalty approximated through
a PAC-Bayes bound by a quadratic form in the Fisher information matrix, made cheap by a low-rank
(SVD) approximation, and the rewards summed into GRPO's objective r_out + α Σ_k r_k.

How this cut-down computes it (each choice checked in ``tests/test_rewards_info_gain.py``):
- θ is the output layer only (the LM head W, V x d). Its per-episode score gradient is exact and
  needs one forward pass and no backward: g_k = Σ_{t ∈ z_k} (e_{y_t} − p_t) h_tᵀ, with h_t the
  final hidden state that predicts token y_t and p_t = softmax(W h_t). The paper uses a low-rank
  proxy of the full model's Fisher; here F̂ is the empirical Fisher of the batch's episodes in
  the output layer's parameters.
- F̂'s rank-r truncation is computed from the N x N Gram matrix K = G Gᵀ of the episode
  gradients (G = U S Vᵀ): g_kᵀ F̂_r g_k = ‖S_r² U_r[k]‖² / N, exactly the SVD truncation of
  F̂ = GᵀG / N, without forming the (Vd) x (Vd) matrix; with r ≥ rank(G), Σ_j (g_j·g_k)² / N.
- η (``eta``) is the step size of the virtual update; β and η enter only as β η², kept apart so
  C_k reads in nats of KL for a step of that size.
- y* is the task's reference answer (the gold solution's answer line, ``dro_r3.reference_answer``,
  after its ``#``), scored after the prefix and the answer mark: the model is made to answer now,
  so J measures what the prefix tells about the answer and not whether the model would stop there
  (scored without the mark, a repeated last line gained ~3 nats on 'tiny-repeats' only because it
  made "#" the likely next token). J is scored by the policy being trained, at temperature 1,
  without gradient (like DRO's scorer).
- Episodes are step lines (``task.segment``); a response without an answer line has only
  episodes. The answer line has no process reward.
- The episode gradients are held as one [B, K, V, d] tensor: small for the character-level models
  (V = 100, d = 128), far too large for a 32k-token vocabulary, where a projection of g (the paper's
  low-rank proxy) would be needed first.

Logged: ``l2t/gain`` (mean gain per episode), ``l2t/penalty`` (mean C_k), ``l2t/episodes`` (mean
episodes per row).
"""

from __future__ import annotations

import torch

from sandbox.model.policy import final_hidden_states, output_layer
from sandbox.rewards.base import RewardContext
from sandbox.rewards.dro_r3 import reference_answer, reference_logprobs
from sandbox.rollout.batching import evaluating
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check
from toy_envs.parsing import ANSWER_MARK

SCORE_BATCH = 256


def episode_spans(task, texts: list[str]) -> list[list[tuple[int, int]]]:
    """Per response: the (start, end) character spans of its step lines (``task.segment``), the
    answer line left out."""
    return [[(s.start, s.end) for s in task.segment(text) if s.kind == "step"] for text in texts]


def fitting_gains(policy, prompts: list[str], texts: list[str], spans, references: list[str]) -> list[list[float]]:
    """Per response, per episode k: J(s_k, z_k) − J(s_k), with J(s) = Σ_j log π(y*_j | s, #, y*_<j)
    over the reference answer line's tokens after its mark (``references`` start with it)."""
    contexts = [(prompts[n], text[:end] + ANSWER_MARK, references[n][len(ANSWER_MARK) :])
                for n, text in enumerate(texts) for end in [0, *(e for _, e in spans[n])]]
    unique = list(dict.fromkeys(contexts))  # a group's rows share J(x) and often their first lines
    scored = {}
    for lo in range(0, len(unique), SCORE_BATCH):
        chunk = unique[lo : lo + SCORE_BATCH]
        ell, mask = reference_logprobs(policy, *(list(column) for column in zip(*chunk)))
        scored.update(zip(chunk, (ell * mask).sum(-1).tolist()))
    values = [scored[c] for c in contexts]
    gains, at = [], 0
    for row in spans:
        j = values[at : at + len(row) + 1]
        gains.append([j[k + 1] - j[k] for k in range(len(row))])
        at += len(row) + 1
    return gains


@torch.no_grad()
def episode_gradients(policy, tokens: torch.Tensor, episode_of: torch.Tensor) -> torch.Tensor:
    """[B, K, V, d] g_{b,k} = Σ_{t: episode_of[b,t]=k} (e_{y_t} − softmax(W h_{t−1})) h_{t−1}ᵀ, the
    gradient of log π(z_k | ·) with respect to the LM head's weight W; ``episode_of`` [B, T] holds
    each token's episode (−1: none)."""
    module = policy.module
    device = next(module.parameters()).device
    with evaluating(module):
        hidden = final_hidden_states(module, tokens.to(device)).float()
        logits = output_layer(module)(hidden.to(output_layer(module).weight.dtype)).float()
    h, p = hidden[:, :-1], logits[:, :-1].softmax(-1)
    residual = torch.nn.functional.one_hot(tokens[:, 1:].to(device), p.shape[-1]).float() - p  # e_y − p
    k = int(episode_of.max().item()) + 1 if episode_of.numel() else 0
    member = torch.nn.functional.one_hot((episode_of[:, 1:] + 1).clamp(min=0).to(device), k + 1)[..., 1:].float()  # [B, T-1, K]
    return torch.einsum("btk,btv,btd->bkvd", member, residual, h).cpu()


def fisher_penalties(gradients: torch.Tensor, rank: int, eta: float) -> torch.Tensor:
    """[N] C_j = ½ η² g_jᵀ F̂_r g_j for the rows of ``gradients`` [N, P], F̂ = GᵀG/N truncated to its
    top ``rank`` eigenvalues (through the Gram matrix; its eigendecomposition in float64)."""
    n = gradients.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.float64)
    g = gradients.float()
    gram = (g @ g.T).double()
    eigenvalues, eigenvectors = torch.linalg.eigh(gram)  # ascending; eigenvalues = S², eigenvectors = U
    top = eigenvalues.flip(0)[:rank].clamp(min=0)
    u = eigenvectors.flip(1)[:, :rank]
    return 0.5 * eta**2 * ((u * top) ** 2).sum(-1) / n


def episode_ids(rollouts: Rollouts, spans) -> torch.Tensor:
    """[B, T] long: each response token's episode index (its step line), −1 elsewhere (prompt,
    answer line, padding). Positions come from the rollouts' ``step_ids``: step k of a response is
    its k-th segment, so episode k's tokens are those with step id k for k < #episodes."""
    ids = rollouts.step_ids.cpu()
    episodes = torch.tensor([len(row) for row in spans], dtype=torch.long)[:, None]
    keep = (ids >= 0) & (ids < episodes) & rollouts.response_mask.cpu()
    return torch.where(keep, ids, torch.full_like(ids, -1))


def info_gain(rollouts: Rollouts, ctx: RewardContext, beta: float = 1.0, eta: float = 0.05, rank: int = 64) -> torch.Tensor:
    """[B, T] float32: r_k on each episode's last token, 0 elsewhere (module docstring)."""
    check(beta >= 0, "beta", ">= 0", beta)
    check(eta > 0, "eta", "> 0", eta)
    check(isinstance(rank, int) and rank >= 1, "rank", "an integer >= 1", rank)
    check(ctx.policy is not None, "policy", "the policy being trained (RewardContext.policy)", ctx.policy)
    task = ctx.task
    spans = episode_spans(task, rollouts.texts)
    prompts = [task.prompt(p) for p in rollouts.problems]
    references = [reference_answer(task, p) for p in rollouts.problems]
    check(all(r.startswith(ANSWER_MARK) for r in references), "task",
          f"a task whose answer line starts with {ANSWER_MARK!r} (step-line tasks: arithmetic, tree)", type(task).__name__)
    gains = fitting_gains(ctx.policy, prompts, rollouts.texts, spans, references)
    episodes = episode_ids(rollouts, spans)
    gradients = episode_gradients(ctx.policy, rollouts.tokens, episodes)  # [B, K, V, d]
    present = [(b, k) for b, row in enumerate(spans) for k in range(len(row))]
    flat = torch.stack([gradients[b, k].flatten() for b, k in present]) if present else torch.zeros((0, 1))
    penalties = fisher_penalties(flat, rank, eta)
    out = torch.zeros(rollouts.tokens.shape, dtype=torch.float32, device=rollouts.device)
    for (b, k), c in zip(present, penalties.tolist()):
        last = int((episodes[b] == k).nonzero().max())
        out[b, last] = gains[b][k] - beta * c
    n = max(len(present), 1)
    ctx.metrics.update({
        "l2t/gain": sum(gains[b][k] for b, k in present) / n,
        "l2t/penalty": float(penalties.sum()) / n,
        "l2t/episodes": len(present) / max(len(rollouts), 1),
    })
    return out
