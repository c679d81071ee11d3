"""The SFT warm starts shared by tests, notebooks and benchmarks: their presets and their build.

A preset names a task config, a model config and an SFT config (and optionally another preset
whose checkpoint SFT continues from). ``build_warmstart`` trains one and writes its checkpoint:
the weights and SFT's final AdamW state keyed by parameter name, which
``RLConfig.init_optimizer_state`` starts RL from. Every preset is a recipe of the one table of
cached models, ``sandbox.train.recipes``: ``recipes.build(name)`` returns the checkpoint directory
(trained only when the cache lacks it; the key hashes the preset, its init's directory name and
this module's import closure) and ``recipes.load(name)`` the (model, task, state).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import toy_envs
from sandbox.eval.accuracy import evaluate_accuracy
from sandbox.model.checkpoint import save_checkpoint
from sandbox.model.model import ModelConfig
from sandbox.model.tokenizer import CharTokenizer
from sandbox.train.sft import SFTConfig, train_sft_with_optimizer


@dataclass(frozen=True)
class Preset:
    task: str
    """Task registry name (``toy_envs.TASKS``)."""
    task_fields: dict = field(default_factory=dict)
    """Task config fields."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Model config (vocab size is the tokenizer's)."""
    sft: SFTConfig = field(default_factory=SFTConfig)
    """SFT config."""
    init: str = ""
    """Another preset whose checkpoint SFT continues from (same model config); empty: a fresh model."""

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "task_fields": self.task_fields,
            "model": asdict(self.model),
            "sft": asdict(self.sft),
            "init": self.init,
        }


_VOCAB = CharTokenizer().vocab_size
TINY_MODEL = ModelConfig(vocab_size=_VOCAB, d_model=128, n_layers=4, n_heads=4, n_kv_heads=4, d_ff=384, max_seq_len=128)
"""The 0.8M-parameter model every preset trains."""
TEST_MODEL = ModelConfig(vocab_size=_VOCAB, d_model=64, n_layers=2, n_heads=4, n_kv_heads=4, d_ff=192, max_seq_len=128)
"""The 0.11M-parameter model of the fast-mode copies the tests and CI load (``recipes.FAST_COPIES``):
2 layers of width 64, whose training and sampling cost a fifth to a quarter of ``TINY_MODEL``'s per
token; on the 'tiny' task it needs about twice the SFT steps for the same greedy accuracy."""
EDGE_SFT_STEPS = 600
EDGE_TREE_FIELDS = {"operators": "+-", "branching": 3, "dead_end_fraction": 0.5, "start_max": 9, "operand_max": 5}
"""The edge tree presets' puzzles: small values (start 1-9, operands 1-5), so that the model
learns the step arithmetic within the SFT budget (at start 1-20, operands 1-9, 600 steps left
98% of its depth-1 and -2 errors arithmetic ones)."""
EDGE_TREE_SFT_STEPS = 450
PRESETS: dict[str, Preset] = {
    # Tests, notebooks, benchmarks: 2-step +/- chains, a 0.8M-parameter model and an SFT short
    # enough to build in about a minute on 2 cores. Copying is learned first, the ones digit of
    # each result last, so the model is left right part of the time: room for RL above it.
    "tiny": Preset(
        task="arithmetic",
        task_fields={"n_steps": 2, "operators": "+-", "start_max": 50},
        model=TINY_MODEL,
        sft=SFTConfig(steps=300, batch_size=64, lr=3e-3, eval_problems=256),
    ),
    # A longer warm start on the same task: the model is past the steep part of its learning
    # curve, so RL starts from a flatter point.
    "tiny-long": Preset(
        task="arithmetic",
        task_fields={"n_steps": 2, "operators": "+-", "start_max": 50},
        model=TINY_MODEL,
        sft=SFTConfig(steps=600, batch_size=64, lr=3e-3, eval_problems=256),
    ),
    # Imperfect demonstrations: 60% of the answer lines state the last result + 1, so the model
    # computes well but usually copies its answer wrong -- a systematic flaw RL can remove.
    "tiny-noisy": Preset(
        task="arithmetic",
        task_fields={"n_steps": 2, "operators": "+-", "start_max": 50},
        model=TINY_MODEL,
        sft=SFTConfig(steps=600, batch_size=64, lr=3e-3, eval_problems=256, answer_noise=0.6),
    ),
    # Calibration (RLCR): the tiny task with a confidence line after the answer line. It
    # continues from `tiny-noisy` on clean demonstrations, so SFT teaches the new line while the
    # model, which computes well, still copies some answers wrong -- errors it could learn to
    # doubt. q is drawn uniformly per problem (toy_envs.confidence): it tells RL nothing to start from.
    "tiny-calib": Preset(
        task="arithmetic",
        task_fields={"n_steps": 2, "operators": "+-", "start_max": 50, "confidence_line": True},
        model=TINY_MODEL,
        sft=SFTConfig(steps=60, batch_size=64, lr=1e-3, warmup_steps=20, min_lr_ratio=1.0, eval_problems=256),
        init="tiny-noisy",
    ),
    # Redundant reasoning (the Learning-to-Think testbed, sandbox.rewards.info_gain): the tiny task
    # whose demonstrations write each step line twice half of the time (toy_envs.repeats). It
    # continues from `tiny`, so the model computes as well as `tiny` and pads its solutions with
    # repeats that the verifier accepts: outcome reward cannot tell them apart, a reward that prices
    # what each step contributes can.
    "tiny-repeats": Preset(
        task="arithmetic",
        task_fields={"n_steps": 2, "operators": "+-", "start_max": 50, "repeat_lines": 0.5},
        model=TINY_MODEL,
        sft=SFTConfig(steps=300, batch_size=64, lr=3e-3, eval_problems=256),
        init="tiny",
    ),
    # The plain-SFT control of 'tiny-pcl' (sandbox.train.pcl_warmstart): 'tiny' continued with the
    # same SFT settings and steps on plain demonstrations only (no post-completion evaluation), so
    # "PCL vs plain SFT + RL" compares models that had the same SFT compute. No test loads it.
    "tiny-pcl-control": Preset(
        task="arithmetic",
        task_fields={"n_steps": 2, "operators": "+-", "start_max": 50},
        model=TINY_MODEL,
        sft=SFTConfig(steps=300, batch_size=64, lr=2e-3, warmup_steps=20, eval_problems=256),
        init="tiny",
    ),
    # The 'tiny' recipe in long-answer mode ("#7,5" lists every intermediate): DRO scores the
    # likelihood of that reference line, so each reasoning step has answer tokens that depend on it.
    "tiny-long-answer": Preset(
        task="arithmetic",
        task_fields={"n_steps": 2, "operators": "+-", "start_max": 50, "long_answer": True},
        model=TINY_MODEL,
        sft=SFTConfig(steps=300, batch_size=64, lr=3e-3, eval_problems=256),
    ),
    # Tree puzzles of depth 2 (one line per level, then the op path), for the toy ProcessBench's
    # "first dead-end step": a sampled op can be offered and computed right yet leave the target
    # unreachable. A short SFT on the same model size (97 s on one thread of a busy 2-core
    # machine; greedy accuracy 0.09). No test loads it, so dev.py does not prebuild it.
    "tiny-tree": Preset(
        task="tree",
        task_fields={"depth": 2, "branching": 3, "dead_end_fraction": 0.5},
        model=TINY_MODEL,
        sft=SFTConfig(steps=200, batch_size=64, lr=3e-3, eval_problems=256),
    ),
    # The edge-of-competence pair (``sandbox.bench.edge``; Zhang, Neubig & Yue 2025): +/- chains of
    # 1-3 operations, plus 4-5 operations in 1% of the demonstrations ('edge') or in none
    # ('edge-control'); otherwise identical. RL then trains on longer chains only (README, "Edge of
    # competence"). Each builds in about 210-250 s of CPU on one thread (600 steps); no test loads them.
    "edge": Preset(
        task="arithmetic",
        task_fields={"operators": "+-", "start_max": 50, "n_steps_mix": "1:0.33,2:0.33,3:0.33,4:0.005,5:0.005"},
        model=TINY_MODEL,
        sft=SFTConfig(steps=EDGE_SFT_STEPS, batch_size=64, lr=3e-3, eval_problems=256),
    ),
    "edge-control": Preset(
        task="arithmetic",
        task_fields={"operators": "+-", "start_max": 50, "n_steps_mix": "1:1,2:1,3:1"},
        model=TINY_MODEL,
        sft=SFTConfig(steps=EDGE_SFT_STEPS, batch_size=64, lr=3e-3, eval_problems=256),
    ),
    # The tree-puzzle half of the pair, one level down: +/- tree puzzles (branching 3, half the
    # offered branches dead ends) of depth 1, plus depth 2 in 5% of the demonstrations ('edge-tree')
    # or in none ('edge-tree-control'); otherwise identical. RL then trains on depth 2 only (README,
    # "Tree puzzles"); no test loads them. Not yet the edge regime: 'edge-tree' answers 15% of depth-2
    # puzzles right greedily but 1.4% with every step valid (its step arithmetic fails there), and
    # 70 steps of outcome RL raise sampled pass@1 (+0.021), not process pass@1 (+0.000).
    "edge-tree": Preset(
        task="tree",
        task_fields={**EDGE_TREE_FIELDS, "depth_mix": "1:0.95,2:0.05"},
        model=TINY_MODEL,
        sft=SFTConfig(steps=EDGE_TREE_SFT_STEPS, batch_size=64, lr=3e-3, eval_problems=256),
    ),
    "edge-tree-control": Preset(
        task="tree",
        task_fields={**EDGE_TREE_FIELDS, "depth_mix": "1:1"},
        model=TINY_MODEL,
        sft=SFTConfig(steps=EDGE_TREE_SFT_STEPS, batch_size=64, lr=3e-3, eval_problems=256),
    ),
}


def build_warmstart(name: str, preset: Preset, init, out: Path) -> None:
    """Train preset ``name`` (SFT continues from ``init``'s model, the loaded (model, task, state)
    of its init preset, or starts fresh when ``init`` is None) and save it to ``out``."""
    task = toy_envs.make_task(preset.task, **preset.task_fields)
    # progress: a bar on a terminal or in a notebook (``sandbox.train.progress``), silent in logs and tests
    model, summary, optimizer = train_sft_with_optimizer(task, preset.model, preset.sft, progress=True,
                                                       init=init[0] if init else None)
    save_checkpoint(out, model, {"preset": name, **preset.to_dict(), "summary": summary}, optimizer, by_name=True)


def build_on_demonstrations(name: str, preset: Preset, init, out: Path, task, demonstrations) -> None:
    """``build_warmstart`` with SFT on ``demonstrations`` (a wrapper of ``task``, the preset's task,
    whose prompts or targets differ: ``feedback_warmstart``, ``pcl_warmstart``) instead of the task's
    own; the summary's metrics are greedy on ``task``'s plain prompts, as RL samples."""
    model, summary, optimizer = train_sft_with_optimizer(demonstrations, preset.model, replace(preset.sft, eval_problems=0),
                                                       progress=True, init=init[0] if init else None)
    summary["sft/config"] = asdict(preset.sft)
    if preset.sft.eval_problems:
        summary.update(evaluate_accuracy(model, task, CharTokenizer(), preset.sft.eval_problems))
    save_checkpoint(out, model, {"preset": name, **preset.to_dict(), "summary": summary}, optimizer, by_name=True)
