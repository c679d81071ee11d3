"""ThinkPRM-style training of a generative judge: a teacher on templated chains, process
filtering of the teacher's own chains, a student on the kept chains.

    solutions_T ← policy samples of train problems 0..n−1            (keyed, step tag −1)
    teacher     ← SFT of the warm start on (judge_input, template_chain(labels, error_rate))
    solutions_S ← policy samples of train problems n..2n−1           (other solutions)
    chains      ← N_f chains per solution sampled from the teacher  (pass count 1 + j mod max_passes)
    kept        = { z : every step verdict of z's last pass = the step's label,
                        its final verdict = 1[all labels good], and its step count = the solution's }
    rejected_fraction = 1 − |kept| / |chains|
    student     ← SFT of the warm start on (judge_input, z) for z in kept

The SFT loss is the warm start's (``sandbox.train.sft``) with the mask on the chain:

    L(θ) = − Σ_t m_t log π_θ(z_t | x, z_<t) / Σ_t m_t,   m_t = 1 on the chain's tokens and its <eos>

"Process Reward Models That Think" (ThinkPRM; Khalifa et al. 2025, arXiv 2504.16828):
verification chains are sampled from a large reasoning model (here the teacher, whose
``error_rate`` stands in for an imperfect one), kept only when their step verdicts match the
gold step labels (process-based filtering), and the small judge is fine-tuned on the kept chains.
Cut down: the labels come from ``sandbox.prm.labels`` (default the oracle's step validity,
standing in for PRM800K's human labels), and we also require the final verdict to match (with
a consistent chain it does whenever the step verdicts do). The judge is a copy of the policy's
warm start with ``max_seq_len`` raised to ``JUDGE_SEQ_LEN`` (rotary tables are not weights) so
two passes fit after the longest solution. Teacher and student train with the same loop, each
from the warm start; randomness is keyed (templates, sampling, batch order).

Trained judges by name (``JUDGE_RECIPES``, built by ``build_judges``: a directory holding
``teacher/``, ``student/`` and ``info.json``) are recipes of the one table of cached models,
``sandbox.train.recipes``: ``recipes.load("tiny-thinkprm")`` is the student,
``recipes.load("tiny-thinkprm:teacher")`` the teacher.
"""

from __future__ import annotations

import copy
import json
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from sandbox.model.checkpoint import save_checkpoint
from sandbox.model.model import TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.model.tokenizer import CharTokenizer
from sandbox.prm.generative import JudgeConfig, judge_input, sample_chains
from sandbox.prm.labels import LABELLERS
from sandbox.prm.verification import parse_passes, template_chain
from sandbox.rng import row_key
from sandbox.train.prm_train import PRMTrainConfig, label_solutions, sample_solutions
from sandbox.train.progress import progress_bar
from sandbox.train.sft import sft_loss
from sandbox.train.toolkit import keyed_batches, learning_rate, optimizer_step, pad_rows, set_learning_rate
from toy_envs.base import check

JUDGE_SEQ_LEN = 192
"""The judge's context: prompt + response + two verification passes."""


@dataclass
class JudgeTrainConfig:
    labels: str = "oracle-valid"
    """Step labeller (``sandbox.prm.labels``) that writes the teacher's chains and filters the student's."""
    n_problems: int = 128
    """Train problems whose policy samples make the teacher's data (the student's are the next n)."""
    group_size: int = 2
    """Policy samples per problem."""
    temperature: float = 1.0
    """Sampling temperature of the policy's solutions (higher: more erroneous steps to learn from)."""
    error_rate: float = 0.2
    """Probability that a templated step verdict is flipped (the imperfect teacher data)."""
    max_passes: int = 2
    """Templated and teacher-sampled chains have 1..max_passes passes (``again``: sequential scaling)."""
    filter_chains: int = 2
    """N_f, chains the teacher samples per student solution before filtering."""
    filter_temperature: float = 1.0
    """Sampling temperature of the teacher's chains."""
    teacher_steps: int = 100
    """Optimizer steps of the teacher's SFT."""
    student_steps: int = 100
    """Optimizer steps of the student's SFT."""
    batch_size: int = 32
    """Chains per optimizer step."""
    length_buckets: int = 1
    """Forward passes per step over the batch's chains sorted by length, each cut to its longest
    (``sft.sft_loss``): the same loss up to summation order, without most of the compute on padding."""
    lr: float = 1e-3
    """Peak learning rate (linear warm-up, cosine decay to 10%)."""
    n_completions: int = 4
    """K, MC completions per step end (MC-based labellers only)."""
    seed: int = 0
    """Keys the solutions, templates, teacher samples and batch order."""

    def validate(self) -> None:
        check(self.labels in LABELLERS, "labels", f"one of {sorted(LABELLERS)}", self.labels)
        for name in ("n_problems", "group_size", "max_passes", "filter_chains", "teacher_steps", "student_steps", "batch_size", "n_completions"):
            check(getattr(self, name) >= 1, name, "an integer >= 1", getattr(self, name))
        check(0 <= self.error_rate <= 1, "error_rate", "in [0, 1]", self.error_rate)
        check(self.temperature > 0, "temperature", "> 0", self.temperature)
        check(self.filter_temperature >= 0, "filter_temperature", ">= 0", self.filter_temperature)
        check(self.lr > 0, "lr", "> 0", self.lr)
        check(1 <= self.length_buckets <= self.batch_size, "length_buckets", "an integer in [1, batch_size]", self.length_buckets)

    def data_config(self) -> PRMTrainConfig:
        """The solution sampling and labelling settings as a ``PRMTrainConfig``."""
        return PRMTrainConfig(labels=self.labels, n_problems=self.n_problems, group_size=self.group_size,
                              temperature=self.temperature, n_completions=self.n_completions, seed=self.seed)


def make_judge(model: TinyLlama) -> TinyLlama:
    """A copy of ``model`` with ``max_seq_len = JUDGE_SEQ_LEN`` (the policy is left untouched)."""
    judge = TinyLlama(replace(model.cfg, max_seq_len=max(JUDGE_SEQ_LEN, model.cfg.max_seq_len)))
    judge.load_state_dict(copy.deepcopy(model.state_dict()))
    judge.eval()
    return judge


def judge_inputs(solutions, task) -> list[str]:
    """``judge_input`` of every row."""
    return [judge_input(task.prompt(p), text) for p, text in zip(solutions.problems, solutions.texts)]


def templated_chains(solutions, task, labels: list[list[float]], cfg: JudgeTrainConfig) -> list[str]:
    """One templated chain per row; its pass count and flips keyed by (seed, problem, rollout)."""
    chains = []
    for b, (verdict, row_labels) in enumerate(zip(solutions.verdicts, labels)):
        key = (cfg.seed, "template", int(solutions.problem_index[b]), int(solutions.rollout_index[b]))
        rng = random.Random(row_key(*key))
        passes = 1 + rng.randrange(cfg.max_passes)
        modulus = getattr(solutions.problems[b], "modulus", None)
        chains.append(template_chain(list(verdict.steps), row_labels, modulus, cfg.error_rate, rng, passes))
    return chains


def chain_matches(chain: str, labels: list[float]) -> bool:
    """Process filter: the last pass has one verdict per step, each equal to its label (≥ 0.5 =
    good), and a final verdict equal to "every label good"."""
    steps, final = parse_passes(chain)[-1]
    truth = [y >= 0.5 for y in labels]
    return steps == truth and final == all(truth)


def process_filter(chains: list[str], labels: list[list[float]]) -> tuple[list[bool], float]:
    """(kept flag per chain, rejected fraction = 1 − kept / total)."""
    kept = [chain_matches(c, y) for c, y in zip(chains, labels)]
    return kept, 1.0 - sum(kept) / max(len(kept), 1)


def chain_batch(inputs: list[str], chains: list[str], tokenizer: CharTokenizer, width_cap: int):
    """Right-padded ``<bos> input chain <eos>`` rows and the mask on chain + eos tokens."""
    rows, masks = [], []
    for x, z in zip(inputs, chains):
        head, tail = tokenizer.encode(x, bos=True), tokenizer.encode(z, eos=True)
        row = (head + tail)[:width_cap]
        rows.append(row)
        masks.append(([False] * len(head) + [True] * len(tail))[:width_cap])
    return pad_rows(rows, tokenizer.pad_id), pad_rows(masks, False, torch.bool)


def fit_chains(judge: TinyLlama, inputs: list[str], chains: list[str], steps: int, cfg: JudgeTrainConfig, tag: str,
               progress: bool = False) -> list[float]:
    """SFT of ``judge`` on the chains (loss on chain tokens only); keyed minibatch order; returns the
    losses. ``progress``: a bar over the steps (``sandbox.train.progress``)."""
    check(len(chains) >= 1, "chains", "at least one training chain (all were filtered out?)", len(chains))
    tok = CharTokenizer()
    optimizer = torch.optim.AdamW(judge.parameters(), lr=cfg.lr, weight_decay=0.01, betas=(0.9, 0.98))
    judge.train()
    losses, batches = [], keyed_batches(len(chains), cfg.batch_size, (cfg.seed, "judge-batches", tag))
    for step in progress_bar(progress, range(steps), desc=f"{tag} judge", leave=False):
        rows = [row for _, row in next(batches)]
        tokens, mask = chain_batch([inputs[i] for i in rows], [chains[i] for i in rows], tok, judge.cfg.max_seq_len)
        loss = sft_loss(judge, tokens, mask, tok.pad_id, cfg.length_buckets)
        # SFT's schedule and its defaults: warm-up over 10 steps, cosine to a tenth of lr at the end
        set_learning_rate(optimizer, learning_rate(step, cfg.lr, min(10, steps), steps, 0.1, warmup="product"))
        optimizer_step(optimizer, loss, judge.parameters(), 1.0)
        losses.append(loss.item())
    judge.eval()
    return losses


def train_teacher(policy, task, cfg: JudgeTrainConfig, progress: bool = False) -> tuple[TinyLlama, dict]:
    """The teacher: the warm start SFT-trained on templated chains (with ``error_rate``) of
    policy samples of train problems 0..n−1; ``progress``: a bar over the SFT steps."""
    cfg.validate()
    solutions = sample_solutions(policy, task, cfg.data_config())
    labels = label_solutions(policy, task, solutions, cfg.data_config())
    teacher = make_judge(policy.module)
    losses = fit_chains(teacher, judge_inputs(solutions, task), templated_chains(solutions, task, labels, cfg),
                        cfg.teacher_steps, cfg, "teacher", progress)
    return teacher, {"judge/teacher_loss": sum(losses[-10:]) / len(losses[-10:]), "judge/teacher_solutions": len(solutions)}


def filtered_chains(teacher: TinyLlama, policy, task, cfg: JudgeTrainConfig):
    """(inputs, chains, kept flags, rejected fraction): ``filter_chains`` teacher chains of each
    policy sample of train problems n..2n−1, chain j with ``1 + j mod max_passes`` passes."""
    data = cfg.data_config()
    solutions = sample_solutions(policy, task, data, first_problem=cfg.n_problems)
    labels = label_solutions(policy, task, solutions, data)
    inputs = judge_inputs(solutions, task)
    all_inputs, all_chains, all_labels = [], [], []
    for passes in range(1, cfg.max_passes + 1):
        js = [j for j in range(cfg.filter_chains) if 1 + j % cfg.max_passes == passes]
        rows = [(b, j) for b in range(len(solutions)) for j in js]
        if not rows:
            continue
        keys = [("filter", int(solutions.problem_index[b]), int(solutions.rollout_index[b]), j) for b, j in rows]
        sampling = JudgeConfig(passes=passes, temperature=cfg.filter_temperature)
        all_chains += sample_chains(teacher, [inputs[b] for b, _ in rows], sampling, keys, cfg.seed)
        all_inputs += [inputs[b] for b, _ in rows]
        all_labels += [labels[b] for b, _ in rows]
    kept, rejected = process_filter(all_chains, all_labels)
    return all_inputs, all_chains, kept, rejected


def train_thinkprm(policy, task, cfg: JudgeTrainConfig, progress: bool = False) -> tuple[TinyLlama, TinyLlama, dict]:
    """(teacher, student, info): the whole recipe; info has ``judge/rejected_fraction``. When the
    filter rejects every chain the student is the untrained warm start (``judge/kept_chains`` = 0).
    ``progress``: bars over the teacher's and the student's SFT steps."""
    cfg.validate()
    t0 = time.perf_counter()
    teacher, info = train_teacher(policy, task, cfg, progress)
    inputs, chains, kept, rejected = filtered_chains(teacher, policy, task, cfg)
    student = make_judge(policy.module)
    keep = [i for i, k in enumerate(kept) if k]
    # every chain rejected (a tiny budget or a poor teacher): the student stays the warm start
    losses = fit_chains(student, [inputs[i] for i in keep], [chains[i] for i in keep], cfg.student_steps, cfg, "student", progress) if keep else [float("nan")]
    info.update({
        "judge/rejected_fraction": rejected, "judge/kept_chains": len(keep), "judge/sampled_chains": len(chains),
        "judge/student_loss": sum(losses[-10:]) / len(losses[-10:]), "judge/train_s": time.perf_counter() - t0,
    })
    return teacher, student, info


# ---- trained judges by name ---------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeRecipe:
    init: str
    """Warm-start preset: the policy whose samples make the chains, and both judges' initial weights."""
    train: JudgeTrainConfig = field(default_factory=JudgeTrainConfig)
    """How teacher and student are trained."""
    task_fields: dict = field(default_factory=dict)
    """Fields of the warm start's task replaced for the training data (empty: its own task)."""


JUDGE_RECIPES: dict[str, JudgeRecipe] = {
    # sized to build in about 45 s on one thread (dev.py prebuilds it); the teacher's chains are
    # sampled at temperature 0.5, 4 per solution, so that enough of them pass the filter (at
    # 1.0 and 2 per solution 14 of 256 were kept). Its batches run in 4 length buckets since 6 Dec
    # 2026 (its chains have one or two passes: 35 s of CPU instead of 41-43 on a 2-core AMD EPYC);
    # the measurements of results.md were made with one pass per batch, the same loss up to
    # rounding, which a rebuild changes as another CPU's kernels do (tests/test_learning_thinkprm.py
    # gives both)
    "tiny-thinkprm": JudgeRecipe("tiny", JudgeTrainConfig(n_problems=64, group_size=2, teacher_steps=60, student_steps=40,
                                                          batch_size=32, length_buckets=4, lr=3e-3, filter_chains=4,
                                                          filter_temperature=0.5)),
    # the head-to-head's: tiny-thinkprm's training on the 'edge' warm start's samples of its RL chains
    # (in one pass per batch, as its committed reports were made)
    "edge-thinkprm": JudgeRecipe("edge", JudgeTrainConfig(n_problems=64, group_size=2, teacher_steps=60, student_steps=40,
                                                          batch_size=32, lr=3e-3, filter_chains=4, filter_temperature=0.5),
                                 task_fields={"n_steps_mix": "4:1"}),
}
"""Recipe name -> ``JudgeRecipe``."""


def build_judges(name: str, recipe: JudgeRecipe, init, out: Path) -> None:
    """Train recipe ``name``'s teacher and student from ``init`` (the loaded (model, task, state)
    of its warm start) and save them to ``out`` (``save_judges``)."""
    model, task, state = init
    teacher, student, info = train_thinkprm(TinyPolicy(model), task, recipe.train, progress=True)
    meta = {"recipe": name, "init": recipe.init, "task": state["task"], "task_fields": state["task_fields"],
            "train": asdict(recipe.train), **info}
    save_judges(out, teacher, student, meta)


def save_judges(path: str | Path, teacher: TinyLlama, student: TinyLlama, info: dict) -> Path:
    """``path/teacher``, ``path/student`` and ``path/info.json`` (written last: its presence marks a complete build)."""
    path = Path(path)
    for role, judge in (("teacher", teacher), ("student", student)):
        save_checkpoint(path / role, judge, {"judge": role, **info})
    (path / "info.json").write_text(json.dumps(info, indent=2))
    return path
