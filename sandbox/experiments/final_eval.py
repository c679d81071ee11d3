"""An experiment's final evaluation (a spec's ``[final]`` table): each run's last checkpoint, and
the warm start it began from, evaluated again after training, beyond what the run logged.

    final/accuracy@len{L}          greedy accuracy on ``problems`` held-out problems of length L
    final/process_accuracy@len{L}  the same, counting only answers whose every step is valid
    final/hack_rate                P(well-formed ∧ wrong) of the responses to ``problems`` held-out
                                   problems of the run's own task (greedy; or ``samples`` each at
                                   ``temperature`` > 0, keyed by (seed 0, problem, sample) alike for
                                   every run), under the hackable rubric
                                   (``rubric_checks.HACKABLE_CHECKS``: format only)
    final/p_well_formed            P(well-formed) there
    final/p_correct_given_wf       P(correct | well-formed) there (None when nothing is well-formed)
    final/pass@{k}                 unbiased pass@k (``sandbox.eval.pass_at_k``) from ``pass_k`` samples
    final/process_pass@{k}         of each of ``pass_problems`` held-out problems of the run's task at
                                   ``pass_temperature`` (keys (seed 0, problem, sample), alike for every
                                   run), for k = 1, 2, 4, ..., pass_k; process: every step valid too
    final/plateau_solved           of those problems the warm start never solved (0 correct of its
                                   pass_k samples), the fraction the run solves at least once in its
    final/process_plateau_solved   pass_k samples (computed by the report from the per-problem counts
                                   both final.json files keep, ``pass_counts``; 0 for the warm start)

Length L is the task at that chain length (``task.at_length``: arithmetic's operations, a tree
puzzle's depth), so a grid trained on one length reports how its methods carry to shorter and
longer chains (the head-to-head: dense step rewards vs the outcome as chains get longer). The
rubric numbers are measurements (the verifier decides "wrong"); a variant that pays for form
(a rubric as dense reward) raises the hack rate by raising P(well-formed) at the same P(correct
| wf); sampling at the training temperature shows the format a policy produces under RL's own
sampling, where greedy decoding may hide it (``sandbox.bench.hack``'s setting: temperature 1.5,
4 samples). Accuracy per length is greedy, so it depends only on the weights; the problems are
the task's ``eval`` split, the same for every run.

The pass@k curve up to large k, before (the warm start's ``init_final.json``) and after RL, is
the capability-boundary measurement (Yue et al. 2025, arXiv 2504.13837): RL that only sharpens
the distribution raises pass@1 and leaves pass@k at large k flat or lower (the report's Δ against
the warm start); RL that extends what the model can do raises it too (Zhang, Neubig & Yue 2025,
arXiv 2512.07783, report this for process pass@k on harder problems).

The evaluation changes no run: adding or changing ``[final]`` keeps a grid's directory valid, and
a finished run whose ``final.json`` was made with other settings is evaluated again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from toy_envs.base import ConfigError, check

FINAL_FILE = "final.json"
"""In a run's directory: {"settings": ..., "metrics": ...} of its final evaluation."""
INIT_FINAL_FILE = "init_final.json"
"""In the experiment's directory: the same for the warm start (the report's Δ is taken from it)."""


@dataclass(frozen=True)
class FinalSettings:
    lengths: tuple[int, ...] = ()
    """Chain lengths (tree depths) to evaluate at; () for none."""
    problems: int = 256
    """Held-out problems per length, and for the rubric's numbers."""
    rubric: bool = True
    """Measure the hackable rubric's hack rate, P(well-formed) and P(correct | well-formed)."""
    temperature: float = 0.0
    """The rubric's responses: greedy (0) or sampled at this temperature."""
    samples: int = 1
    """Sampled responses per problem for the rubric (with ``temperature`` > 0)."""
    pass_k: int = 0
    """Samples per problem of the pass@k curve (its largest k); 0: no curve."""
    pass_problems: int = 128
    """Held-out problems of the pass@k curve."""
    pass_temperature: float = 1.0
    """Sampling temperature of the pass@k curve."""


def final_settings(table: dict, task) -> FinalSettings:
    """``[final]``'s settings, checked against the task (``ConfigError`` naming the field)."""
    allowed = ("lengths", "problems", "rubric", "temperature", "samples", "pass_k", "pass_problems", "pass_temperature")
    unknown = sorted(set(table) - set(allowed))
    check(not unknown, "final", f"keys among {list(allowed)}", unknown)
    lengths, problems, rubric = table.get("lengths", []), table.get("problems", 256), table.get("rubric", True)
    check(isinstance(lengths, list) and all(type(x) is int and x >= 1 for x in lengths) and len(set(lengths)) == len(lengths),
          "final.lengths", "a list of distinct chain lengths >= 1, e.g. [2, 4, 6]", lengths)
    check(not lengths or hasattr(task, "at_length"), "final.lengths", "empty: this task has no chain length", lengths)
    for length in lengths:
        try:
            task.at_length(length).problem(0, split="eval")
        except ConfigError as err:  # a length the task cannot make (beyond its maximum)
            raise ConfigError(f"final.lengths: {err}") from None
    check(type(problems) is int and problems >= 1, "final.problems", "an integer >= 1", problems)
    check(type(rubric) is bool, "final.rubric", "true or false", rubric)
    temperature, samples = table.get("temperature", 0.0), table.get("samples", 1)
    check(type(temperature) in (int, float) and temperature >= 0, "final.temperature", "a number >= 0 (0: greedy)", temperature)
    check(type(samples) is int and samples >= 1 and (temperature > 0 or samples == 1), "final.samples",
          "an integer >= 1 (1 when greedy: temperature 0)", samples)
    pass_k, pass_problems = table.get("pass_k", 0), table.get("pass_problems", 128)
    pass_temperature = table.get("pass_temperature", 1.0)
    check(type(pass_k) is int and pass_k >= 0, "final.pass_k", "an integer >= 0 (0: no pass@k curve)", pass_k)
    check(type(pass_problems) is int and pass_problems >= 1, "final.pass_problems", "an integer >= 1", pass_problems)
    check(type(pass_temperature) in (int, float) and pass_temperature > 0, "final.pass_temperature", "a number > 0", pass_temperature)
    return FinalSettings(tuple(sorted(lengths)), problems, rubric, float(temperature), samples, pass_k, pass_problems,
                         float(pass_temperature))


def final_metric_names(settings: FinalSettings | None) -> list[str]:
    """The metrics a final evaluation with ``settings`` writes, in the report's order."""
    if settings is None:
        return []
    per_length = [f"final/{head}@len{n}" for n in settings.lengths for head in ("accuracy", "process_accuracy")]
    rubric = ["final/hack_rate", "final/p_correct_given_wf", "final/p_well_formed"] if settings.rubric else []
    plateau = list(PLATEAU_METRICS) if settings.pass_k else []
    return per_length + rubric + pass_metric_names(settings.pass_k) + plateau


def pass_metric_names(n: int) -> list[str]:
    """``final/pass@k`` then ``final/process_pass@k`` for every k of the curve from ``n`` samples."""
    from sandbox.eval.pass_at_k import curve_ks

    return [f"final/{head}@{k}" for head in ("pass", "process_pass") for k in (curve_ks(n) if n else [])]


PLATEAU_METRICS = {"final/plateau_solved": "correct", "final/process_plateau_solved": "process"}
"""Report metric -> the per-problem count (``pass_counts``) it reads (module docstring)."""


def plateau_solved(init_counts: list[int], run_counts: list[int]) -> float | None:
    """Of the problems with count 0 in ``init_counts``, the fraction with a count > 0 in
    ``run_counts`` (``None`` when the warm start solved every problem at least once)."""
    never = [i for i, c in enumerate(init_counts) if c == 0]
    return sum(run_counts[i] > 0 for i in never) / len(never) if never else None


def plateau_metrics(init_record: dict, run_record: dict) -> dict[str, float]:
    """``PLATEAU_METRICS`` of a run's final.json record against the warm start's ({} when either
    lacks the per-problem counts, as files written before they were kept do)."""
    init_counts, run_counts = init_record.get("pass_counts"), run_record.get("pass_counts")
    if not init_counts or not run_counts:
        return {}
    out = {name: plateau_solved(init_counts[key], run_counts[key]) for name, key in PLATEAU_METRICS.items()}
    return {name: value for name, value in out.items() if value is not None}


def evaluate_final(model, task, settings: FinalSettings) -> dict[str, float]:
    """The final metrics of ``model`` on ``task`` (see the module docstring)."""
    return evaluate_final_record(model, task, settings)["metrics"]


def evaluate_final_record(model, task, settings: FinalSettings) -> dict:
    """{"metrics": the final metrics, "pass_counts": {"correct", "process"} per pass@k problem
    (with ``pass_k``)}."""
    from sandbox.eval.accuracy import default_max_new_tokens, greedy_responses
    from sandbox.model.tokenizer import CharTokenizer
    from sandbox.rewards.rubric_checks import HACKABLE_CHECKS, rubric_checks

    tokenizer = CharTokenizer()
    out = {}
    for length in settings.lengths:
        at = task.at_length(length)
        problems = [at.problem(i, split="eval") for i in range(settings.problems)]
        verdicts = [at.score(p, t) for p, t in zip(problems, greedy_responses(model, at, problems, tokenizer, default_max_new_tokens(at)))]
        out[f"final/accuracy@len{length}"] = sum(v.correct for v in verdicts) / len(verdicts)
        out[f"final/process_accuracy@len{length}"] = sum(v.process_correct for v in verdicts) / len(verdicts)
    if settings.rubric:
        problems, texts = rubric_responses(model, task, settings)
        correct = [task.score(p, t).correct for p, t in zip(problems, texts)]
        well_formed = [all(rubric_checks(task, p, t, HACKABLE_CHECKS).values()) for p, t in zip(problems, texts)]
        n_wf = sum(well_formed)
        out["final/hack_rate"] = sum(w and not c for w, c in zip(well_formed, correct)) / len(texts)
        out["final/p_well_formed"] = n_wf / len(texts)
        out["final/p_correct_given_wf"] = sum(w and c for w, c in zip(well_formed, correct)) / n_wf if n_wf else None
    record = {"metrics": out}
    if settings.pass_k:
        metrics, record["pass_counts"] = pass_curve(model, task, settings)
        out.update(metrics)
    return record


def pass_curve(model, task, settings: FinalSettings) -> tuple[dict[str, float], dict[str, list[int]]]:
    """``final/pass@k`` and ``final/process_pass@k`` of ``model`` (``sandbox.eval.pass_at_k``; seed 0),
    and the per-problem counts of correct and process-correct samples."""
    from sandbox.eval.accuracy import default_max_new_tokens
    from sandbox.eval.pass_at_k import pass_curve_of_counts, sample_counts
    from sandbox.model.policy import TinyPolicy
    from sandbox.model.sampler import SamplingConfig

    sampling = SamplingConfig(max_new_tokens=default_max_new_tokens(task), temperature=settings.pass_temperature)
    counts = sample_counts(TinyPolicy(model), task, settings.pass_k, settings.pass_problems, sampling, 0)
    curve = pass_curve_of_counts(settings.pass_k, *counts)
    metrics = {name: curve[name.replace("final/", "eval/", 1)] for name in pass_metric_names(settings.pass_k)}
    return metrics, {"correct": counts[0], "process": counts[1]}


def rubric_responses(model, task, settings: FinalSettings) -> tuple[list, list[str]]:
    """(problem, response) rows the rubric's numbers are measured on: one greedy response per
    held-out problem, or ``samples`` sampled at ``temperature`` (keys (0, 0, problem, sample))."""
    from sandbox.eval.accuracy import default_max_new_tokens, greedy_responses
    from sandbox.model.policy import TinyPolicy
    from sandbox.model.sampler import SamplingConfig
    from sandbox.model.tokenizer import CharTokenizer
    from sandbox.rollout.group_sampler import sample_groups

    budget = default_max_new_tokens(task)
    if settings.temperature == 0:
        problems = [task.problem(i, split="eval") for i in range(settings.problems)]
        return problems, greedy_responses(model, task, problems, CharTokenizer(), budget)
    sampling = SamplingConfig(max_new_tokens=budget, temperature=settings.temperature)
    rollouts = sample_groups(TinyPolicy(model), task, list(range(settings.problems)), settings.samples, sampling, 0, 0, split="eval")
    return list(rollouts.problems), list(rollouts.texts)


def settings_record(settings: FinalSettings) -> dict:
    return {**asdict(settings), "lengths": list(settings.lengths)}


def is_current(path: Path, settings: FinalSettings | None) -> bool:
    """Whether ``path`` (a ``final.json``) holds an evaluation with these settings (True when
    there is nothing to evaluate). A setting its record lacks (written before the setting
    existed) counts at its default, which is what was done then."""
    import json

    if settings is None:
        return True
    if not path.exists():
        return False
    saved = json.loads(path.read_text()).get("settings", {})
    return FinalSettings(**{**saved, "lengths": tuple(saved.get("lengths", ()))}) == settings


def final_model_path(run_dir: Path) -> Path:
    """The run's last checkpoint (``RunError`` naming the run when it has none)."""
    from sandbox.errors import RunError
    from sandbox.train.run_dir import list_checkpoints

    found = list_checkpoints(run_dir)
    if not found:
        raise RunError(f"run {run_dir} has no checkpoint to evaluate")
    return found[-1]
