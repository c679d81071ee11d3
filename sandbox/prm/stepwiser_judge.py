"""StepWiser-style generative chunk judge, trained with GRPO on class-balanced labelled chunks.

The judge reads one *chunk* (here: one step of the task's segmentation) in its context and writes
ONE verification line for it, in the shared format of ``sandbox.prm.verification``:

    judge input   = prompt + response prefix through step t + CHECK
    judge output  = recompute(step t) + " Y" | " N"   then <eos>

Training (StepWiser, Xiong et al. 2025, "StepWiser: Stepwise Generative Judges for Wiser
Reasoning", arXiv 2508.19229): RL on chunk judgments with the reward

    r(chunk, output) = 1[verdict(output) = y_chunk]          (0 when no verdict can be read)

where y_chunk is the chunk's label from a chosen labelling rule (``sandbox.prm.labels``:
``oracle-valid``, or StepWiser's ``abs-q`` / ``rel-ratio`` / ``rel-effective`` on MC values), on
a pool with as many good as bad chunks (the paper balances classes so that "always Y" earns
half the reward). The pool of labelled chunks is wrapped as a *task* (``ChunkTask``: problem i
is the i-th chunk of the pool, ``score`` returns the reward above as ``Verdict.correct``), so the
project's own ``Trainer`` with the ``outcome-grpo`` variant does the RL with nothing special-cased.
A cold start comes first (the judge must know the format): SFT on templated lines whose
verdict is flipped with probability ``error_rate`` (the recomputation then agrees with the
flipped verdict, ``verification.erring_recompute``), leaving errors for GRPO to fix.

Scoring (no access to the task's oracle: only ``task.prompt`` and ``task.segment``): for each
step t, N chains are sampled (noise keyed by (seed, problem, rollout, t, k)); the judge's
recomputation is the first line of a chain with any trailing " Y"/" N" removed, and

    score_t = (1/N) Σ_k  P(Y) / (P(Y) + P(N))     at the verdict token after "recomputation "

Cut down from the paper: a chunk is one task step (the paper segments its own "chunks of
thought"), the judge's reasoning is the one recomputed line, the RL is the sandbox's GRPO
(PPO-clip, group z-scored outcome advantage) and the pools are built once, not refreshed.

This module is the judge: its chunks and chunk task, pools, and scoring. Its training (pools from
a policy's samples, the cold start, GRPO) and the cached, named judges (``STEPWISER_RECIPES``,
built and loaded by ``sandbox.train.recipes``) are in ``sandbox.train.stepwiser_train``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sandbox.model.model import TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.model.sampler import SamplingConfig
from sandbox.prm.verdict import verdict_probability
from sandbox.prm.verification import CHECK, NO, YES, line_verdict, recompute
from sandbox.rng import row_key
from sandbox.rollout.batching import evaluating, pad_rows
from toy_envs.base import SPLITS, Rubric, Step, Verdict, check, is_int


@dataclass(frozen=True)
class Chunk:
    """One labelled chunk: step ``step`` of a policy solution, in its context."""

    context: str
    """The solver's prompt + the response through this step (the judge's input before CHECK)."""
    step: Step
    """The step being judged (as the task segments it)."""
    good: bool
    """Its label from the labelling rule (label ≥ 0.5)."""
    line: str
    """The correct verification line: ``recompute(step) + " Y"/" N"`` with the label's verdict."""
    source: tuple[int, int, int]
    """(problem index, rollout index, step index) of the policy sample it comes from (step index -1:
    a whole solution)."""
    steps: tuple[Step, ...] = ()
    """A solution chunk's steps, each recomputed in its line (``solution_chunks_of``); () for a step chunk."""


def read_verdict(text: str) -> bool | None:
    """The verdict of a judge output: one line (a single trailing newline allowed) ending in
    " Y"/" N"; ``None`` for anything else (empty, several lines, no verdict)."""
    line = text[:-1] if text.endswith("\n") else text
    if "\n" in line:
        return None
    return line_verdict(line)


@dataclass(frozen=True)
class ChunkTask:
    """A pool of labelled chunks as a task (``toy_envs.base.Task``): problem i of a split is chunk
    ``i mod len(pool)`` (the RL stream cycles through the pool); the 'solution' is the verification
    line and ``score(...).correct`` is 1[the written verdict equals the chunk's label]."""

    train_pool: tuple[Chunk, ...]
    """Chunks of the train split (class-balanced)."""
    eval_pool: tuple[Chunk, ...]
    """Chunks of the eval split (class-balanced, from eval-split problems)."""
    name: str = "stepwiser-chunks"

    def validate(self) -> None:
        for split in SPLITS:
            pool = self.pool(split)
            check(len(pool) >= 2, f"{split}_pool", "at least one good and one bad chunk", len(pool))

    def pool(self, split: str) -> tuple[Chunk, ...]:
        check(split in SPLITS, "split", f"one of {SPLITS}", split)
        return self.train_pool if split == "train" else self.eval_pool

    def problem(self, index: int, split: str = "train") -> Chunk:
        check(is_int(index) and index >= 0, "index", "an integer >= 0", index)
        pool = self.pool(split)
        return pool[index % len(pool)]

    def prompt(self, chunk: Chunk) -> str:
        return chunk.context + CHECK

    def gold_solution(self, chunk: Chunk) -> str:
        return chunk.line

    def segment(self, text: str) -> list[Step]:
        """The whole output is one (answer) step."""
        return [Step(0, 0, len(text), text, "answer", read_verdict(text) is not None)] if text else []

    def score(self, chunk: Chunk, text: str) -> Verdict:
        verdict = read_verdict(text)
        correct = verdict is not None and verdict == chunk.good
        steps = tuple(self.segment(text))
        status = "ok" if verdict is not None else ("no_answer" if not text else "bad_answer")
        return Verdict(
            correct=correct, parse_status=status, steps=steps, step_valid=(correct,) * len(steps),
            step_value=(int(correct),) * len(steps), first_error=None if correct else 0,
            answer=None if verdict is None else (YES if verdict else NO),
        )

    def format_rubric(self, text: str) -> Rubric:
        ok = read_verdict(text) is not None
        return Rubric(well_formed=ok, answer_present=ok)


# ---- pools -------------------------------------------------------------------------------------


def chunks_of(task, solutions, labels: list[list[float]]) -> list[Chunk]:
    """Every step of every solution as a labelled chunk, in (row, step) order."""
    modulus = getattr(task, "modulus", None)
    out = []
    for row, (problem, text, verdict) in enumerate(zip(solutions.problems, solutions.texts, solutions.verdicts)):
        source = (int(solutions.problem_index[row]), int(solutions.rollout_index[row]))
        for step, label in zip(verdict.steps, labels[row]):
            good = label >= 0.5
            line = f"{recompute(step, modulus)} {YES if good else NO}"
            out.append(Chunk(task.prompt(problem) + text[: step.end], step, good, line, (*source, step.index)))
    return out


def solution_line(steps, good: bool, modulus: int | None) -> str:
    """An outcome judge's line: every step recomputed (``recompute``: step lines with their exact
    result, the answer line as stated), comma-separated, then " Y" / " N"."""
    return ",".join(recompute(step, modulus) for step in steps) + f" {YES if good else NO}"


def solution_chunks_of(task, solutions) -> list[Chunk]:
    """Every solution as one chunk for an outcome judge (``StepWiserConfig.unit = "solution"``),
    labelled by the oracle's verdict on its answer (``Verdict.correct``), in row order; its
    ``step`` is the solution's last step."""
    modulus = getattr(task, "modulus", None)
    out = []
    for row, (problem, text, verdict) in enumerate(zip(solutions.problems, solutions.texts, solutions.verdicts)):
        if not verdict.steps:
            continue  # an empty response: nothing to recompute
        source = (int(solutions.problem_index[row]), int(solutions.rollout_index[row]), -1)
        steps = tuple(verdict.steps)
        out.append(Chunk(task.prompt(problem) + text, steps[-1], verdict.correct,
                         solution_line(steps, verdict.correct, modulus), source, steps))
    return out


def balanced_pool(chunks: list[Chunk], seed: int, tag: str, max_per_class: int = 0) -> tuple[Chunk, ...]:
    """The first n good and first n bad chunks (n = the smaller class, at most ``max_per_class``
    when > 0), in an order shuffled with a generator keyed by (seed, tag)."""
    good = [c for c in chunks if c.good]
    bad = [c for c in chunks if not c.good]
    n = min(len(good), len(bad))
    if max_per_class:
        n = min(n, max_per_class)
    pool = good[:n] + bad[:n]
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(row_key(seed, "chunk-pool", tag)))
    return tuple(pool[i] for i in order.tolist())


# ---- judging -----------------------------------------------------------------------------------


@torch.no_grad()
def judge_outputs(judge: TinyLlama, contexts: list[str], keys: list[int], temperature: float, max_new_tokens: int) -> list[str]:
    """One sampled output per context (temperature 0: greedy), noise keyed by ``keys``."""
    policy = TinyPolicy(judge)
    tok = policy.tokenizer
    texts = []
    for lo in range(0, len(contexts), 512):
        prompts = [tok.encode(c + CHECK, bos=True) for c in contexts[lo: lo + 512]]
        out = policy.sample(prompts, SamplingConfig(max_new_tokens=max_new_tokens, temperature=temperature),
                            torch.tensor(keys[lo: lo + 512], dtype=torch.int64))
        for row in range(len(prompts)):
            start = int(out.prompt_lens[row])
            texts.append(tok.decode(out.tokens[row, start: start + int(out.response_lens[row])]))
    return texts


def recomputation(output: str) -> str:
    """The judge's recomputation in an output: its first line without a trailing " Y"/" N"."""
    line = output.split("\n", 1)[0]
    return line[:-2] if line_verdict(line) is not None else line


@torch.no_grad()
def verdict_probabilities(judge: TinyLlama, contexts: list[str], outputs: list[str]) -> list[float]:
    """P(Y) / (P(Y) + P(N)) at the verdict token after ``context + CHECK + recomputation + " "``."""
    tok = TinyPolicy(judge).tokenizer
    yes, no = tok.encode(YES)[0], tok.encode(NO)[0]
    probs = []
    for lo in range(0, len(contexts), 512):
        rows = [tok.encode(c + CHECK + recomputation(o) + " ", bos=True)[-judge.cfg.max_seq_len:]
                for c, o in zip(contexts[lo: lo + 512], outputs[lo: lo + 512])]
        lengths = torch.tensor([len(r) for r in rows])
        logits = judge(pad_rows(rows, tok.pad_id))[torch.arange(len(rows)), lengths - 1]
        probs += verdict_probability(logits, yes, no, form="pair_softmax").tolist()
    return probs


def sampled_verdict_probabilities(judge: TinyLlama, contexts: list[str], keys: list[int], temperature: float,
                               max_new_tokens: int) -> list[float]:
    """For each context, P(Y)/(P(Y)+P(N)) at the verdict token after one sampled output (noise keyed by ``keys``)."""
    if not contexts:
        return []
    with evaluating(judge):
        outputs = judge_outputs(judge, contexts, keys, temperature, max_new_tokens)
        return verdict_probabilities(judge, contexts, outputs)


def judge_step_scores(judge: TinyLlama, task, rollouts, n_samples: int = 4, seed: int = 0, temperature: float = 1.0,
                      max_new_tokens: int = 24) -> list[list[float]]:
    """Per row of ``rollouts``, per step (``task.segment``): the mean over ``n_samples`` sampled
    chains of P(Y)/(P(Y)+P(N)) at the verdict token. All chunks are judged in one batch; reads
    only ``task.prompt`` and ``task.segment`` (never the oracle)."""
    contexts, keys, slots = [], [], []
    for row, (problem, text) in enumerate(zip(rollouts.problems, rollouts.texts)):
        p, r = int(rollouts.problem_index[row]), int(rollouts.rollout_index[row])
        prompt = task.prompt(problem)
        for step in task.segment(text):
            for k in range(n_samples):
                contexts.append(prompt + text[: step.end])
                keys.append(row_key(seed, "judge", p, r, step.index, k))
                slots.append((row, step.index))
    probs = sampled_verdict_probabilities(judge, contexts, keys, temperature, max_new_tokens)
    scores: list[list[float]] = [[0.0] * len(task.segment(text)) for text in rollouts.texts]
    for (row, t), prob in zip(slots, probs):
        scores[row][t] += prob / n_samples
    return scores


def judge_solution_scores(judge: TinyLlama, task, rollouts, n_samples: int = 4, key: tuple = (0,), temperature: float = 1.0,
                          max_new_tokens: int = 48) -> list[float]:
    """An outcome judge's (``StepWiserConfig.unit = "solution"``) score of each row of ``rollouts``:
    the mean over ``n_samples`` sampled checks of the whole solution (context = prompt + response,
    as ``solution_chunks_of`` writes it) of P(Y)/(P(Y)+P(N)) at the verdict token; 0 for a row
    with no step to check (an empty response). Check k of row (problem p, rollout r) is keyed by
    (*key, p, r, k), and its output budget is ``max_new_tokens`` or what the judge's ``max_seq_len``
    leaves after its own context, whichever is smaller: a row's score does not depend on its
    batch. Reads only ``task.prompt`` and ``task.segment``."""
    contexts, keys, rows = [], [], []
    for row, (problem, text) in enumerate(zip(rollouts.problems, rollouts.texts)):
        if not task.segment(text):
            continue
        p, r = int(rollouts.problem_index[row]), int(rollouts.rollout_index[row])
        for k in range(n_samples):
            contexts.append(task.prompt(problem) + text)
            keys.append(row_key(*key, "judge-solution", p, r, k))
            rows.append(row)
    tok = TinyPolicy(judge).tokenizer
    budgets = [min(max_new_tokens, judge.cfg.max_seq_len - len(tok.encode(c + CHECK, bos=True))) for c in contexts]
    check(min(budgets, default=1) >= 1, "rollouts", f"responses that leave the judge room to write (max_seq_len={judge.cfg.max_seq_len})",
          f"a context of {judge.cfg.max_seq_len - min(budgets, default=1)} tokens")
    probs = [0.0] * len(contexts)
    for budget in sorted(set(budgets)):  # one sampling call per output budget
        at = [i for i, b in enumerate(budgets) if b == budget]
        for i, prob in zip(at, sampled_verdict_probabilities(judge, [contexts[i] for i in at], [keys[i] for i in at], temperature, budget)):
            probs[i] = prob
    scores = [0.0] * len(rollouts.texts)
    for row, prob in zip(rows, probs):
        scores[row] += prob / n_samples
    return scores


def output_budget(pool) -> int:
    """Tokens a judge may write for a chunk of ``pool``: its longest correct line + 8 (at least 24)."""
    return max(24, max(len(c.line) for c in pool) + 8)


def majority_votes(verdicts: list[bool | None], k: int) -> bool | None:
    """The majority of the first ``k`` readable verdicts among ``verdicts`` (a judgment without a
    verdict casts no vote); ``None`` on a tie or without a vote."""
    cast = [v for v in verdicts[:k] if v is not None]
    yes = sum(cast)
    return None if 2 * yes == len(cast) else 2 * yes > len(cast)


def verdict_accuracy(judge: TinyLlama, chunk_task: ChunkTask, split: str = "eval", n_samples: int = 4, seed: int = 0,
                     temperature: float = 1.0, sampled_only: bool = False) -> dict[str, float]:
    """On the (class-balanced) pool of ``split``: the fraction of sampled outputs whose verdict
    matches the label (``sampled``, ``n_samples`` per chunk at ``temperature``: the expected GRPO
    reward on held-out chunks); unless ``sampled_only``, also the same for the greedy output
    (``greedy``), the fraction of P(Y)/(P(Y)+P(N)) ≥ 0.5 on the label's side (``score``, the
    step-score rule of ``judge_step_scores``), and for k = 1, 3, 5, … ≤ ``n_samples`` the accuracy
    of the majority of the first k sampled verdicts (``vote@k``: test-time scaling by voting, as
    RRM and DeepSeek-GRM scale; a tie or no vote counts as wrong)."""
    pool = chunk_task.pool(split)
    budget = output_budget(pool)
    with evaluating(judge):
        repeated = [c for c in pool for _ in range(n_samples)]
        keys = [row_key(seed, "judge-acc", split, i, k) for i in range(len(pool)) for k in range(n_samples)]
        sampled = judge_outputs(judge, [c.context for c in repeated], keys, temperature, budget)
        out = {"sampled": sum(chunk_task.score(c, o).correct for c, o in zip(repeated, sampled)) / len(sampled)}
        if not sampled_only:
            verdicts = [read_verdict(o) for o in sampled]
            for k in range(1, n_samples + 1, 2):
                votes = [majority_votes(verdicts[i * n_samples:(i + 1) * n_samples], k) for i in range(len(pool))]
                out[f"vote@{k}"] = sum(v is not None and v == c.good for v, c in zip(votes, pool)) / len(pool)
            greedy = judge_outputs(judge, [c.context for c in pool], [0] * len(pool), 0.0, budget)
            probs = verdict_probabilities(judge, [c.context for c in repeated], sampled)
            out["greedy"] = sum(chunk_task.score(c, o).correct for c, o in zip(pool, greedy)) / len(pool)
            out["score"] = sum((p >= 0.5) == c.good for p, c in zip(probs, repeated)) / len(probs)
    return out

