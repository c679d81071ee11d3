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

The cached, named judges (``STEPWISER_RECIPES``, ``stepwiser_checkpoint``, ``load_stepwiser``)
are in ``sandbox.prm.judge_recipes`` with the other judge recipes; this module is the method only.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import torch

from sandbox.model.model import TinyLlama, token_logprobs
from sandbox.model.policy import TinyPolicy
from sandbox.model.sampler import SamplingConfig
from sandbox.prm.labels import LABELLERS
from sandbox.prm.verification import CHECK, NO, YES, erring_recompute, line_verdict, recompute
from sandbox.rng import row_key
from sandbox.train.judge_sft import chain_batch
from sandbox.train.prm_train import PRMTrainConfig, label_solutions, sample_solutions
from sandbox.train.rl import LARGE_UPDATE, RLConfig, Trainer
from sandbox.train.toolkit import keyed_batches, learning_rate, optimizer_step, set_learning_rate
from toy_envs.base import SPLITS, ConfigError, Rubric, Step, Verdict, check, is_int


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
    """(problem index, rollout index, step index) of the policy sample it comes from."""


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


# ---- config ------------------------------------------------------------------------------------


@dataclass
class StepWiserConfig:
    labels: str = "oracle-valid"
    """Labelling rule of the chunks (``sandbox.prm.labels``): oracle-valid, abs-q, rel-ratio, rel-effective, ..."""
    n_problems: int = 128
    """Train-split problems the policy solves for the train pool."""
    eval_problems: int = 64
    """Eval-split problems the policy solves for the held-out pool."""
    group_size: int = 2
    """Policy samples per problem."""
    n_completions: int = 4
    """K, MC completions per step end (MC-based labelling rules)."""
    max_per_class: int = 0
    """At most this many good (and as many bad) chunks per pool; 0 = as many as the rarer class has."""
    error_rate: float = 0.3
    """Cold start: probability that a templated line's verdict is flipped (with an agreeing recomputation)."""
    sft_steps: int = 100
    """Cold start: SFT optimizer steps."""
    sft_batch_size: int = 32
    """Cold start: lines per SFT step."""
    sft_lr: float = 2e-3
    """Cold start: AdamW learning rate (constant after a 10-step warm-up)."""
    rl_steps: int = 30
    """GRPO steps (``Trainer`` with the outcome-grpo variant)."""
    rl_problems_per_step: int = 16
    """Chunks per GRPO step."""
    rl_group_size: int = 8
    """Judge samples per chunk."""
    rl_lr: float = 2e-4
    """GRPO AdamW learning rate."""
    n_samples: int = 4
    """N, sampled chains averaged per judged chunk (scores and sampled verdict accuracy)."""
    temperature: float = 1.0
    """Sampling temperature of the policy's solutions, the judge's GRPO samples and its scoring chains."""
    seed: int = 0
    """Keys the solutions, MC completions, pool order, templated errors, batch order and judge samples."""

    def validate(self) -> None:
        check(self.labels in LABELLERS, "labels", f"one of {sorted(LABELLERS)}", self.labels)
        for name in ("n_problems", "eval_problems", "group_size", "n_completions", "sft_steps", "sft_batch_size",
                     "rl_steps", "rl_problems_per_step", "rl_group_size", "n_samples"):
            check(is_int(getattr(self, name)) and getattr(self, name) >= 1, name, "an integer >= 1", getattr(self, name))
        check(is_int(self.max_per_class) and self.max_per_class >= 0, "max_per_class", "an integer >= 0", self.max_per_class)
        check(0 <= self.error_rate <= 1, "error_rate", "in [0, 1]", self.error_rate)
        check(self.sft_lr > 0, "sft_lr", "> 0", self.sft_lr)
        check(self.rl_lr > 0, "rl_lr", "> 0", self.rl_lr)
        check(self.temperature > 0, "temperature", "> 0", self.temperature)

    def data_config(self, split: str) -> PRMTrainConfig:
        n = self.n_problems if split == "train" else self.eval_problems
        return PRMTrainConfig(labels=self.labels, n_problems=n, group_size=self.group_size,
                              temperature=self.temperature, n_completions=self.n_completions, seed=self.seed)

    def rl_config(self) -> RLConfig:
        # the judge's own lr and problems per step on the Adam update it was measured with (LARGE_UPDATE)
        update = {**LARGE_UPDATE, "lr": self.rl_lr, "problems_per_step": self.rl_problems_per_step}
        return RLConfig(**update, variant="outcome-grpo", seed=self.seed, steps=self.rl_steps,
                        group_size=self.rl_group_size, temperature=self.temperature, eval_every=0,
                        eval_problems=0, pass_problems=0, progress=False)


def build_chunk_task(policy, task, cfg: StepWiserConfig) -> ChunkTask:
    """Class-balanced train and eval pools from ``policy``'s samples of train / eval problems,
    labelled by ``cfg.labels`` (MC completions from ``policy`` where the rule needs them)."""
    cfg.validate()
    pools = {}
    for split in SPLITS:
        data = cfg.data_config(split)
        solutions = sample_solutions(policy, task, data, split=split)
        chunks = chunks_of(task, solutions, label_solutions(policy, task, solutions, data))
        pools[split] = balanced_pool(chunks, cfg.seed, split, cfg.max_per_class)
    chunk_task = ChunkTask(pools["train"], pools["eval"])
    try:
        chunk_task.validate()
    except ConfigError as err:
        raise ConfigError(f"{err}; the policy's samples gave too few bad (or good) chunks: raise n_problems / eval_problems") from None
    return chunk_task


# ---- cold start --------------------------------------------------------------------------------


def templated_line(chunk: Chunk, modulus: int | None, error_rate: float, rng: random.Random) -> str:
    """The chunk's verification line, its verdict flipped with probability ``error_rate`` (the
    recomputation then agrees with the flipped verdict)."""
    if rng.random() < error_rate:
        return f"{erring_recompute(chunk.step, modulus, chunk.good, rng)} {NO if chunk.good else YES}"
    return chunk.line


def cold_start(model: TinyLlama, chunk_task: ChunkTask, modulus: int | None, cfg: StepWiserConfig) -> tuple[TinyLlama, dict]:
    """A copy of ``model`` SFT-trained on templated lines of the train pool (masked NLL of the line
    and eos; line i of epoch e uses noise keyed by (seed, e, i))."""
    cfg.validate()
    judge = TinyLlama(model.cfg)
    judge.load_state_dict(model.state_dict())
    tok = TinyPolicy(judge).tokenizer
    optimizer = torch.optim.AdamW(judge.parameters(), lr=cfg.sft_lr, betas=(0.9, 0.98))
    pool, losses, t0 = chunk_task.train_pool, [], time.perf_counter()
    batches = keyed_batches(len(pool), cfg.sft_batch_size, (cfg.seed, "judge-sft"), span_epochs=True)
    judge.train()
    for step in range(cfg.sft_steps):
        batch = next(batches)
        lines = [templated_line(pool[i], modulus, cfg.error_rate, random.Random(row_key(cfg.seed, "judge-sft-line", e, i)))
                 for e, i in batch]
        tokens, mask = chain_batch([chunk_task.prompt(pool[i]) for _, i in batch], lines, tok, judge.cfg.max_seq_len)
        loss = -(token_logprobs(judge(tokens), tokens) * mask).sum() / mask.sum()
        set_learning_rate(optimizer, learning_rate(step, cfg.sft_lr, 10))
        optimizer_step(optimizer, loss, judge.parameters(), 1.0)
        losses.append(loss.item())
    judge.eval()
    return judge, {"judge/sft_loss": sum(losses[-10:]) / len(losses[-10:]), "judge/sft_s": time.perf_counter() - t0}


def train_stepwiser(policy, task, cfg: StepWiserConfig) -> tuple[TinyLlama, TinyLlama, ChunkTask, dict]:
    """Pools → cold start → GRPO (``Trainer``, outcome-grpo on the ``ChunkTask``); returns
    (cold-start judge, trained judge, the chunk task, info). The judge starts from ``policy``'s weights."""
    cfg.validate()
    t0 = time.perf_counter()
    chunk_task = build_chunk_task(policy, task, cfg)
    info = {"judge/train_chunks": len(chunk_task.train_pool), "judge/eval_chunks": len(chunk_task.eval_pool),
            "judge/pool_s": time.perf_counter() - t0}
    cold, sft_info = cold_start(policy.module, chunk_task, getattr(task, "modulus", None), cfg)
    info.update(sft_info)
    judge = TinyLlama(cold.cfg)
    judge.load_state_dict(cold.state_dict())
    t1 = time.perf_counter()
    history = Trainer(cfg.rl_config(), chunk_task, TinyPolicy(judge)).train()
    judge.eval()
    info.update({"judge/rl_s": time.perf_counter() - t1, "judge/rl_reward_first": history[0]["rollout/reward_mean"],
                 "judge/rl_reward_last": history[-1]["rollout/reward_mean"]})
    return cold, judge, chunk_task, info


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
        tokens = torch.full((len(rows), int(lengths.max())), tok.pad_id, dtype=torch.long)
        for b, r in enumerate(rows):
            tokens[b, : len(r)] = torch.tensor(r)
        logits = judge(tokens)[torch.arange(len(rows)), lengths - 1].float()
        pair = logits[:, [yes, no]].softmax(-1)
        probs += pair[:, 0].tolist()
    return probs


def judge_step_scores(judge: TinyLlama, task, rollouts, n_samples: int = 4, seed: int = 0, temperature: float = 1.0,
                      max_new_tokens: int = 24) -> list[list[float]]:
    """Per row of ``rollouts``, per step (``task.segment``): the mean over ``n_samples`` sampled
    chains of P(Y)/(P(Y)+P(N)) at the verdict token. All chunks are judged in one batch; reads
    only ``task.prompt`` and ``task.segment`` (never the oracle)."""
    was_training = judge.training
    judge.eval()
    contexts, keys, slots = [], [], []
    for row, (problem, text) in enumerate(zip(rollouts.problems, rollouts.texts)):
        p, r = int(rollouts.problem_index[row]), int(rollouts.rollout_index[row])
        prompt = task.prompt(problem)
        for step in task.segment(text):
            for k in range(n_samples):
                contexts.append(prompt + text[: step.end])
                keys.append(row_key(seed, "judge", p, r, step.index, k))
                slots.append((row, step.index))
    outputs = judge_outputs(judge, contexts, keys, temperature, max_new_tokens) if contexts else []
    probs = verdict_probabilities(judge, contexts, outputs) if contexts else []
    scores: list[list[float]] = [[0.0] * len(task.segment(text)) for text in rollouts.texts]
    for (row, t), prob in zip(slots, probs):
        scores[row][t] += prob / n_samples
    judge.train(was_training)
    return scores


def verdict_accuracy(judge: TinyLlama, chunk_task: ChunkTask, split: str = "eval", n_samples: int = 4, seed: int = 0,
                     temperature: float = 1.0, sampled_only: bool = False) -> dict[str, float]:
    """On the (class-balanced) pool of ``split``: the fraction of sampled outputs whose verdict
    matches the label (``sampled``, ``n_samples`` per chunk at ``temperature``: the expected GRPO
    reward on held-out chunks); unless ``sampled_only``, also the same for the greedy output
    (``greedy``) and the fraction of P(Y)/(P(Y)+P(N)) ≥ 0.5 on the label's side (``score``, the
    step-score rule of ``judge_step_scores``)."""
    pool = chunk_task.pool(split)
    was_training = judge.training
    judge.eval()
    repeated = [c for c in pool for _ in range(n_samples)]
    keys = [row_key(seed, "judge-acc", split, i, k) for i in range(len(pool)) for k in range(n_samples)]
    sampled = judge_outputs(judge, [c.context for c in repeated], keys, temperature, 24)
    out = {"sampled": sum(chunk_task.score(c, o).correct for c, o in zip(repeated, sampled)) / len(sampled)}
    if not sampled_only:
        greedy = judge_outputs(judge, [c.context for c in pool], [0] * len(pool), 0.0, 24)
        probs = verdict_probabilities(judge, [c.context for c in repeated], sampled)
        out["greedy"] = sum(chunk_task.score(c, o).correct for c, o in zip(pool, greedy)) / len(pool)
        out["score"] = sum((p >= 0.5) == c.good for p, c in zip(probs, repeated)) / len(probs)
    judge.train(was_training)
    return out

