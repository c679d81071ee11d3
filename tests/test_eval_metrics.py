"""Evaluation metrics (greedy / process-verified accuracy per length, the pass@k curve) against
naive recomputations, with a scripted policy whose responses are known."""

from itertools import combinations

import pytest
import torch

from sandbox.eval.accuracy import evaluate_accuracy
from sandbox.eval.pass_at_k import curve_ks, evaluate_pass_curve
from sandbox.model.sampler import Samples, SamplingConfig
from sandbox.model.tokenizer import CharTokenizer
from sandbox.rng import row_key
from toy_envs import ArithmeticChain, TreePuzzle

TASK = ArithmeticChain(operators="+-", start_max=50, n_steps_mix="1:0.3,2:0.3,3:0.2,4:0.1,5:0.1")
KINDS = ("gold", "wrong_step_right_answer", "wrong_answer", "skipped_step", "garbage")


def naive_values(prompt: str) -> list[int]:
    """The chain's gold intermediates recomputed from the prompt text with plain int arithmetic."""
    words = prompt.split()
    value, values = int(words[0]), []
    for word in words[1:]:
        value = value + int(word[1:]) if word[0] == "+" else value - int(word[1:])
        values.append(value)
    return values


def response(prompt: str, kind: str) -> str:
    values = naive_values(prompt)
    ops = prompt.split()[1:]
    lhs = [int(prompt.split()[0]), *values]
    lines = [f"{a}{op}={b}\n" for a, op, b in zip(lhs, ops, values)]
    if kind == "wrong_step_right_answer" and len(lines) >= 2:  # an off-by-one result, corrected on the next line
        lines[0] = f"{lhs[0]}{ops[0]}={values[0] + 1}\n"
    if kind == "skipped_step" and len(lines) >= 2:
        lines = lines[1:]
    answer = values[-1] + (1 if kind == "wrong_answer" else 0)
    return "nonsense\n" if kind == "garbage" else "".join(lines) + f"#{answer}\n"


def naive_process_correct(prompt: str, text: str) -> bool:
    """Every line states lhs op operand = result with lhs the previous result, the prompt's ops in
    order, right arithmetic, and the answer line the gold last value (a recomputation, not the oracle)."""
    values, ops = naive_values(prompt), prompt.split()[1:]
    lines = text.strip("\n").split("\n")
    if len(lines) != len(ops) + 1 or lines[-1] != f"#{values[-1]}":
        return False
    previous = int(prompt.split()[0])
    for line, op in zip(lines, ops):
        left, result = line.split("=")
        if left != f"{previous}{op}" or int(result) != (previous + int(op[1:]) if op[0] == "+" else previous - int(op[1:])):
            return False
        previous = int(result)
    return True


def naive_correct(prompt: str, text: str) -> bool:
    last = [line for line in text.split("\n") if line.startswith("#")]
    return bool(last) and last[0] == f"#{naive_values(prompt)[-1]}"


class ScriptedPolicy:
    """Answers each prompt with a response of the kind its row key picks (greedy rows too)."""

    def __init__(self, respond=None):
        self.respond = respond or (lambda prompt, key: response(prompt, KINDS[row_key(key, "kind") % len(KINDS)]))
        self.module = torch.nn.Identity()
        self.tokenizer = CharTokenizer()
        self.log: list[tuple[str, str]] = []

    def sample(self, prompts, cfg, keys, ignore_eos=False) -> Samples:
        tok = self.tokenizer
        rows = []
        for prompt_ids, key in zip(prompts, keys.tolist()):
            prompt = tok.decode(prompt_ids[1:])
            text = self.respond(prompt, int(key))
            self.log.append((prompt, text))
            rows.append((prompt_ids, tok.encode(text, eos=True)))
        width = max(len(p) + len(r) for p, r in rows)
        tokens = torch.full((len(rows), width), tok.pad_id)
        mask = torch.zeros(len(rows), width, dtype=torch.bool)
        for b, (p, r) in enumerate(rows):
            tokens[b, : len(p) + len(r)] = torch.tensor(p + r)
            mask[b, len(p) : len(p) + len(r)] = True
        return Samples(
            tokens=tokens, response_mask=mask, logprobs=torch.zeros(len(rows), width),
            prompt_lens=torch.tensor([len(p) for p, _ in rows]), response_lens=torch.tensor([len(r) for _, r in rows]),
            truncated=torch.zeros(len(rows), dtype=torch.bool),
        )


def test_scripted_kinds_are_scored_as_intended():
    """The oracle agrees with the naive recomputation on every kind (sanity of the fixture)."""
    for i in range(40):
        problem = TASK.problem(i, "eval")
        prompt = TASK.prompt(problem)
        for kind in KINDS:
            text = response(prompt, kind)
            verdict = TASK.score(problem, text)
            assert verdict.correct == naive_correct(prompt, text)
            assert verdict.process_correct == naive_process_correct(prompt, text), (prompt, text)
    chain = TASK.at_length(3).problem(0, "eval")
    assert TASK.score(chain, response(TASK.prompt(chain), "wrong_step_right_answer")).correct
    assert not TASK.score(chain, response(TASK.prompt(chain), "wrong_step_right_answer")).process_correct


def test_greedy_metrics_match_a_naive_recomputation():
    policy = ScriptedPolicy()
    metrics = evaluate_accuracy(policy, TASK, policy.tokenizer, 200)
    pairs = policy.log
    assert len(pairs) == 200
    lengths = [len(naive_values(prompt)) for prompt, _ in pairs]
    assert metrics["eval/accuracy"] == pytest.approx(sum(naive_correct(*pair) for pair in pairs) / 200)
    assert metrics["eval/process_accuracy"] == pytest.approx(sum(naive_process_correct(*pair) for pair in pairs) / 200)
    assert metrics["eval/process_accuracy"] < metrics["eval/accuracy"]
    assert {key for key in metrics if "@len" in key} == {f"eval/{m}@len{n}" for m in ("accuracy", "process_accuracy") for n in set(lengths)}
    for n in set(lengths):
        at = [pair for pair, length in zip(pairs, lengths) if length == n]
        assert metrics[f"eval/accuracy@len{n}"] == pytest.approx(sum(naive_correct(*p) for p in at) / len(at))
        assert metrics[f"eval/process_accuracy@len{n}"] == pytest.approx(sum(naive_process_correct(*p) for p in at) / len(at))


def brute_pass(outcomes: list[bool], k: int) -> float:
    """The fraction of k-subsets of the samples with at least one success."""
    subsets = list(combinations(range(len(outcomes)), k))
    return sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 3, 6])
def test_pass_curve_matches_brute_force_over_subsets(n):
    policy = ScriptedPolicy()
    metrics = evaluate_pass_curve(policy, TASK, n, 40, SamplingConfig(max_new_tokens=64), seed=3)
    assert len(policy.log) == 40 * n
    rows = [(naive_correct(prompt, text), naive_process_correct(prompt, text), len(naive_values(prompt))) for prompt, text in policy.log]
    samples = [rows[i : i + n] for i in range(0, 40 * n, n)]  # a problem's n rows are adjacent
    assert all(len({prompt for prompt, _ in policy.log[i : i + n]}) == 1 for i in range(0, 40 * n, n))
    assert set(curve_ks(n)) == {int(key.split("@")[1]) for key in metrics if key.startswith("eval/pass@") and "@len" not in key}
    for k in curve_ks(n):
        assert metrics[f"eval/pass@{k}"] == pytest.approx(sum(brute_pass([c for c, _, _ in s], k) for s in samples) / len(samples))
        assert metrics[f"eval/process_pass@{k}"] == pytest.approx(sum(brute_pass([p for _, p, _ in s], k) for s in samples) / len(samples))
    for length in {s[0][2] for s in samples}:
        at = [s for s in samples if s[0][2] == length]
        for k in {1, n}:
            assert metrics[f"eval/process_pass@{k}@len{length}"] == pytest.approx(sum(brute_pass([p for _, p, _ in s], k) for s in at) / len(at))
            assert metrics[f"eval/pass@{k}@len{length}"] == pytest.approx(sum(brute_pass([c for c, _, _ in s], k) for s in at) / len(at))


def test_pass_curve_does_not_depend_on_chunking(monkeypatch):
    """Rows are keyed by (seed, problem, rollout): sampling 2 problems per call gives the same curve."""
    import sandbox.eval.pass_at_k as module

    whole = evaluate_pass_curve(ScriptedPolicy(), TASK, 8, 12, SamplingConfig(max_new_tokens=64), seed=1)
    monkeypatch.setattr(module, "SAMPLE_ROWS", 16)
    assert evaluate_pass_curve(ScriptedPolicy(), TASK, 8, 12, SamplingConfig(max_new_tokens=64), seed=1) == whole


def test_curve_ks():
    assert curve_ks(1) == [1] and curve_ks(4) == [1, 2, 4] and curve_ks(6) == [1, 2, 4, 6]
    assert curve_ks(64) == [1, 2, 4, 8, 16, 32, 64]


def test_fixed_length_tree_task_logs_its_depth():
    task = TreePuzzle(depth=2)
    golds = {task.prompt(p): task.gold_solution(p) for p in (task.problem(i, "eval") for i in range(8))}
    policy = ScriptedPolicy(lambda prompt, key: golds[prompt] if key % 2 else "#+1\n")
    metrics = evaluate_accuracy(policy, task, policy.tokenizer, 8)
    assert 0 < metrics["eval/accuracy@len2"] == metrics["eval/accuracy"] == metrics["eval/process_accuracy"] < 1
