"""Generative PRM: a judge that writes a verification chain, scored at its verdict tokens.

A judge is a TinyLlama (the character tokenizer; initialised from the policy's warm start) that
reads ``<bos> prompt response check\\n`` (``judge_input``) and writes the chain of
``sandbox.prm.verification``: per step a recomputed line and a verdict ``Y``/``N``, then
``all Y``/``all N``. For a solution x with steps t = 1..n and N sampled chains z_1..z_N:

    p_j(t)   = P_J(Y | x, z_j,<v_jt) / (P_J(Y | ·) + P_J(N | ·))    at the verdict token v_jt of step t
    s(t)     = mean_{j : z_j has a verdict for step t} p_j(t)           (0.5 when no chain has one)
    p_j(fin) = the same at the final verdict token of z_j
    S(x)     = mean_{j : z_j has a final verdict} p_j(fin)              (0.5 when none has one)

"Process Reward Models That Think" (ThinkPRM; Khalifa et al. 2025, arXiv 2504.16828): the step
and solution scores are the verdict-token probabilities of a verification chain the judge
samples itself; *parallel scaling* averages them over N independently sampled chains,
*sequential scaling* makes the judge "check again" (budget forcing): after each pass's final
line, ``again\\n`` is appended and the next pass sampled; the scores are read from the last
pass. Here the k-th line with a verdict in the last pass belongs to step k (lines beyond the
solution's step count are ignored; a chain with fewer, e.g. truncated, says nothing about the
missing steps, and a verdict-less line shifts the later ones: the judge is trusted to write one
line per step, as it was taught).

Probabilities come from one teacher-forced forward over ``<bos> input chain`` after sampling
(the sampled verdict token itself is not used, only the distribution at its position). The
scoring reads only *text*: the prompt (``task.prompt(problem)``), the response and the number of
steps (``rollouts.step_ids``, the task's segmentation made when the rollouts were sampled); it
never calls the task's oracle (``task.score``) nor reads ``rollouts.verdicts`` (a test makes
the oracle raise while a judge scores).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sandbox.model.model import TinyLlama
from sandbox.model.sampler import SamplingConfig, sample
from sandbox.model.tokenizer import CharTokenizer
from sandbox.prm.discriminative import step_end_mask
from sandbox.prm.execution import first_calculation
from sandbox.prm.verdict import verdict_probability
from sandbox.prm.verification import AGAIN, CHECK, FINAL, NO, YES, verdict_offsets
from sandbox.rng import row_keys
from sandbox.rollout.batching import evaluating, pad_rows
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check

SAMPLE_BATCH = 256
"""Rows per sampler call and per teacher-forced scoring forward."""


@dataclass
class JudgeConfig:
    """How a judge scores: chains per solution, passes, sampling."""

    n_chains: int = 4
    """N, verification chains sampled per solution (parallel scaling); scores are their mean."""
    passes: int = 1
    """Verification passes per chain (sequential scaling): ``again`` is forced after each pass's final line."""
    temperature: float = 1.0
    """Sampling temperature of the chains (0 = greedy: every chain is the same)."""
    max_pass_tokens: int = 64
    """Most tokens sampled per pass (also capped by the judge's ``max_seq_len``)."""
    execute: bool = False
    """The judge's calculations (``a<op>b=``) are computed by the sandbox and appended before it
    continues (verification by execution, ``sandbox.prm.execution``)."""

    def validate(self) -> None:
        check(self.n_chains >= 1, "n_chains", "an integer >= 1", self.n_chains)
        check(self.passes >= 1, "passes", "an integer >= 1", self.passes)
        check(self.temperature >= 0, "temperature", ">= 0 (0 = greedy)", self.temperature)
        check(self.max_pass_tokens >= 1, "max_pass_tokens", "an integer >= 1", self.max_pass_tokens)
        check(type(self.execute) is bool, "execute", "true or false", self.execute)


def judge_input(prompt: str, response: str) -> str:
    """What the judge reads: ``prompt + response (+ a newline if it lacks one) + CHECK``."""
    return prompt + response + ("" if response.endswith("\n") or not response else "\n") + CHECK


def end_of_pass(chain: str, start: int = 0) -> int | None:
    """The index just after the first final-verdict line (``all Y``/``all N`` and its newline)
    at or after ``start``, or ``None`` when there is none."""
    pos = start
    for line in chain[start:].split("\n")[:-1]:  # complete lines only
        if line in (FINAL + YES, FINAL + NO):
            return pos + len(line) + 1
        pos += len(line) + 1
    return None


def sample_chains(
    judge: TinyLlama, inputs: list[str], cfg: JudgeConfig, keys: list[tuple], seed: int = 0,
    tokenizer: CharTokenizer | None = None, moduli: list[int | None] | None = None,
) -> list[str]:
    """One verification chain per input, ``cfg.passes`` passes each; ``keys[i]`` (a tuple, e.g.
    (step, problem, rollout, chain)) keys row i's sampling noise with ``seed`` and the pass.

    Each pass is cut just after its first final-verdict line (anything the judge writes after it,
    such as its own ``again``, is dropped); pass k > 1 is sampled from ``input + chain-so-far +
    AGAIN``; a pass that never writes a final line ends the chain there.

    With execution (``cfg.execute``; ``moduli[i]``: row i's problem's modulus) a pass is sampled in
    rounds: each round's text is cut just after the first calculation the judge completes
    (``a<op>b=``), the sandbox's result is appended (``sandbox.prm.execution``) and the next round
    continues from there, keyed by (pass, round); a pass holds at most the pass budget of characters."""
    cfg.validate()
    tok = tokenizer or CharTokenizer()
    if cfg.execute:
        check(moduli is not None and len(moduli) == len(inputs), "moduli", "one modulus (or None) per input with execute", moduli)
    with evaluating(judge):
        chains = [""] * len(inputs)
        live = list(range(len(inputs)))
        starts: dict[int, int] = {}
        for k in range(cfg.passes):
            if k > 0:  # only chains whose previous pass ended with a final line go on
                live = [i for i in live if chains[i].endswith("\n") and end_of_pass(chains[i], starts[i]) == len(chains[i])]
                for i in live:
                    chains[i] += AGAIN
            starts = {i: len(chains[i]) for i in live}
            if not live:
                break
            # one budget for every row (not per batch), so a row's chain does not depend on its batch
            budget = min(cfg.max_pass_tokens, judge.cfg.max_seq_len - 1 - max(len(inputs[i]) + len(chains[i]) for i in live))
            if budget < 1:
                break
            pending, round_ = list(live), 0
            while pending:
                room = {i: starts[i] + budget - len(chains[i]) for i in pending}
                longest = max(len(inputs[i]) + len(chains[i]) for i in pending)
                new_tokens = min(max(room.values()), judge.cfg.max_seq_len - 1 - longest)
                if new_tokens < 1:
                    break
                sampling = SamplingConfig(max_new_tokens=new_tokens, temperature=cfg.temperature)
                executed = []
                for lo in range(0, len(pending), SAMPLE_BATCH):
                    rows = pending[lo : lo + SAMPLE_BATCH]
                    prompts = [tok.encode(inputs[i] + chains[i], bos=True) for i in rows]
                    parts = [("judge", *keys[i], k) + ((round_,) if round_ else ()) for i in rows]
                    out = sample(judge, prompts, sampling, row_keys(seed, parts), tok.eos_id, tok.pad_id)
                    for b, i in enumerate(rows):
                        start, length = int(out.prompt_lens[b]), int(out.response_lens[b])
                        text = (chains[i] + tok.decode(out.tokens[b, start : start + length].tolist()))[: starts[i] + budget]
                        end = end_of_pass(text, starts[i])  # a pass ends at its final line (an own "again" is dropped)
                        found = first_calculation(text, len(chains[i]), moduli[i]) if cfg.execute else None
                        if found is not None and (end is None or found[0] <= end):
                            chains[i] = text[: found[0]] + found[1]
                            executed.append(i)
                        else:
                            chains[i] = text if end is None else text[:end]
                pending, round_ = [i for i in executed if len(chains[i]) < starts[i] + budget], round_ + 1
    return chains


@torch.no_grad()
def verdict_probs(judge: TinyLlama, inputs: list[str], chains: list[str], tokenizer: CharTokenizer | None = None):
    """Per chain: (P(Y) share at each step verdict of its last pass, that at its final verdict or
    ``None``), from one teacher-forced forward over ``<bos> input chain``.

    Character i of the chain is token ``1 + len(input) + i`` (bos, then one token per
    character); the distribution over it is the logits at the position before."""
    tok = tokenizer or CharTokenizer()
    yes, no = tok.encode(YES)[0], tok.encode(NO)[0]
    with evaluating(judge):
        out = []
        for lo in range(0, len(inputs), SAMPLE_BATCH):
            rows = list(range(lo, min(lo + SAMPLE_BATCH, len(inputs))))
            seqs = [tok.encode(inputs[i] + chains[i], bos=True)[: judge.cfg.max_seq_len] for i in rows]
            share = verdict_probability(judge(pad_rows(seqs, tok.pad_id)), yes, no)  # P(Y) / (P(Y) + P(N)), [b, T]
            for b, i in enumerate(rows):
                base = 1 + len(inputs[i])
                steps, final = verdict_offsets(chains[i])
                step_p = [float(share[b, base + o - 1]) for o in steps if base + o < len(seqs[b])]
                final_p = float(share[b, base + final - 1]) if final is not None and base + final < len(seqs[b]) else None
                out.append((step_p, final_p))
    return out


@dataclass
class JudgeScores:
    """A judge's scores of B solutions."""

    steps: list[list[float]]
    """Per row, per step: s(t), the mean P(Y) share over the chains that judged that step."""
    solution: list[float]
    """Per row: S(x), the mean P(Y) share at the chains' final verdicts."""
    chains: list[list[str]]
    """Per row: its N sampled chains (for display and the step-verdict accuracy)."""


def step_counts(rollouts: Rollouts) -> list[int]:
    """Steps per row (the task's segmentation, stored in ``rollouts.step_ids``; no oracle call)."""
    return step_end_mask(rollouts).sum(-1).tolist()


def judge_rollouts(
    judge: TinyLlama, rollouts: Rollouts, task, cfg: JudgeConfig | None = None, seed: int = 0, step: int = 0,
) -> JudgeScores:
    """Score every row of ``rollouts`` with N chains of ``cfg.passes`` passes. ``task`` is used
    for ``task.prompt`` only. Chain j of row b is keyed by (seed, step, problem, rollout, j)."""
    cfg = cfg or JudgeConfig()
    cfg.validate()
    counts = step_counts(rollouts)
    inputs = [judge_input(task.prompt(p), text) for p, text in zip(rollouts.problems, rollouts.texts)]
    rows = [(b, j) for b in range(len(rollouts)) for j in range(cfg.n_chains)]
    keys = [(step, int(rollouts.problem_index[b]), int(rollouts.rollout_index[b]), j) for b, j in rows]
    flat_inputs = [inputs[b] for b, _ in rows]
    moduli = [getattr(rollouts.problems[b], "modulus", None) for b, _ in rows]
    chains = sample_chains(judge, flat_inputs, cfg, keys, seed, moduli=moduli)
    probs = verdict_probs(judge, flat_inputs, chains)
    per_step: list[list[list[float]]] = [[[] for _ in range(n)] for n in counts]
    finals: list[list[float]] = [[] for _ in counts]
    for (b, _), (step_p, final_p) in zip(rows, probs):
        for t, p in enumerate(step_p[: counts[b]]):
            per_step[b][t].append(p)
        if final_p is not None:
            finals[b].append(final_p)
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.5  # noqa: E731
    return JudgeScores(
        steps=[[mean(ps) for ps in row] for row in per_step],
        solution=[mean(f) for f in finals],
        chains=[[chains[b * cfg.n_chains + j] for j in range(cfg.n_chains)] for b in range(len(rollouts))],
    )


def judge_score_fn(judge: TinyLlama, task, cfg: JudgeConfig | None = None, seed: int = 0):
    """``score_fn(rollouts) -> step scores`` (the ProcessBench / best-of-N interface)."""
    return lambda rollouts: judge_rollouts(judge, rollouts, task, cfg, seed).steps

