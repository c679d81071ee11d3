"""How well a post-completion self-evaluation (PCL, ``toy_envs.post_completion``) judges its own response.

For N responses with correctness c_i and, where the evaluation after the answer parses, predicted
reward r̂_i ∈ {0, 1} and step verdicts v_{i,t}:

    eval/self_eval_parsed          (1/N) Σ_i 1[evaluation parses]
    eval/self_eval_accuracy        (1/N) Σ_i 1[parses ∧ r̂_i = c_i]            (unparsed counts as wrong)
    eval/self_eval_step_agreement  over parsed responses with one verdict per step line:
                                   the fraction of verdicts equal to the oracle's step validity
    calib/*                        ``calibration_summary`` with q = r̂ over the parsed responses

r̂ is a confidence restricted to {0, 1}, so its Brier score is 1 − accuracy over the parsed rows
and ECE is the gap between the mean predicted reward and the accuracy: the same numbers the
Brier calibration variant (``brier``, RLCR) is read by, for comparison. Evaluation logs these for
every task with ``post_completion`` set (``sandbox.eval.accuracy.evaluate_accuracy``), on the full
greedy response (the evaluation is read; deployment would stop at the marker).
"""

from __future__ import annotations

from collections.abc import Sequence

from sandbox.eval.calibration import calibration_summary
from toy_envs.post_completion import parse_evaluation


def self_evaluation_metrics(texts: Sequence[str], verdicts: Sequence) -> dict:
    """The module docstring's metrics for responses ``texts`` scored as ``verdicts``."""
    parsed = [(parse_evaluation(text), v) for text, v in zip(texts, verdicts, strict=True)]
    parsed = [(e, v) for e, v in parsed if e is not None]
    n = len(texts)
    out = {
        "eval/self_eval_parsed": len(parsed) / n if n else 0.0,
        "eval/self_eval_accuracy": sum(e.predicted_reward == int(v.correct) for e, v in parsed) / n if n else 0.0,
    }
    agree, total = 0, 0
    for e, v in parsed:
        oracle = [valid for step, valid in zip(v.steps, v.step_valid) if step.kind == "step"]
        if len(oracle) == len(e.step_verdicts):
            agree += sum(a == b for a, b in zip(e.step_verdicts, oracle))
            total += len(oracle)
    if total:
        out["eval/self_eval_step_agreement"] = agree / total
    if parsed:
        out.update(calibration_summary([float(e.predicted_reward) for e, _ in parsed], [float(v.correct) for _, v in parsed]))
    return out
