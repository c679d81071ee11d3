"""SDPO's self-distillation term (sandbox.rewards.sdpo) against naive per-token loops, and its
teacher rows; the trainer's side (sandbox.train.self_distillation) on a random model."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.model.model import ModelConfig, TinyLlama
from sandbox.model.policy import TinyPolicy
from sandbox.model.tokenizer import CharTokenizer
from sandbox.rewards.registry import VARIANTS, Variant, build_distillation
from sandbox.rewards.sdpo import (
    QUOTE,
    SelfDistillation,
    align_teacher_logits,
    teacher_inputs,
    teacher_prompt,
    token_kl,
    token_log_ratio,
)
from sandbox.rollout.rollouts import Rollouts
from sandbox.train.self_distillation import first_wrong_step_auroc, first_wrong_step_labels, teacher_logits
from toy_envs import ConfigError, make_task
from toy_envs.feedback import first_wrong_step

TASK = make_task("arithmetic", n_steps=2, operators="+-", start_max=50)


@st.composite
def logit_pairs(draw):
    b, t, v = draw(st.integers(1, 3)), draw(st.integers(2, 5)), draw(st.integers(2, 6))
    seed = draw(st.integers(0, 10**6))
    gen = torch.Generator().manual_seed(seed)
    scale = draw(st.sampled_from([0.1, 1.0, 5.0]))
    return scale * torch.randn(b, t, v, generator=gen), scale * torch.randn(b, t, v, generator=gen)


def naive_kl(student, teacher, temperature):
    """KL(p ‖ q) at each position t ≥ 1 from logits at t − 1, with explicit softmax loops."""
    b, t, v = student.shape
    out = [[0.0] * t for _ in range(b)]
    for i in range(b):
        for j in range(1, t):
            zs = [float(x) / temperature for x in student[i, j - 1]]
            zt = [float(x) / temperature for x in teacher[i, j - 1]]
            ms, mt = max(zs), max(zt)
            ns, nt = sum(math.exp(z - ms) for z in zs), sum(math.exp(z - mt) for z in zt)
            p = [math.exp(z - ms) / ns for z in zs]
            q = [math.exp(z - mt) / nt for z in zt]
            out[i][j] = sum(pk * (math.log(pk) - math.log(qk)) for pk, qk in zip(p, q) if pk > 0)
    return torch.tensor(out, dtype=torch.float64)


@given(logit_pairs(), st.sampled_from([0.5, 1.0, 2.0]))
def test_token_kl_matches_a_naive_softmax_loop_and_is_non_negative(pair, temperature):
    student, teacher = pair
    kl = token_kl(student, teacher, temperature)
    assert torch.allclose(kl.double(), naive_kl(student, teacher, temperature), atol=1e-4)
    assert (kl >= -1e-6).all()
    assert (kl[:, 0] == 0).all()


@given(logit_pairs())
def test_kl_is_zero_where_the_teacher_sees_the_students_context(pair):
    student, _ = pair
    assert torch.allclose(token_kl(student, student.clone()), torch.zeros(student.shape[:2]), atol=1e-6)
    # a shift of every logit by a constant is the same distribution
    assert torch.allclose(token_kl(student, student + 3.0), torch.zeros(student.shape[:2]), atol=1e-5)


@given(logit_pairs())
def test_the_gradient_flows_through_the_student_only(pair):
    student, teacher = (x.clone().requires_grad_(True) for x in pair)
    token_kl(student, teacher).sum().backward()
    assert teacher.grad is None or (teacher.grad == 0).all()
    assert student.grad is not None and torch.isfinite(student.grad).all()
    # the gradient of Σ KL(softmax(s) ‖ q) in s at position t-1 is p ⊙ (log p − log q − KL): zero iff p = q
    s, q = pair[0][:, :-1], pair[1][:, :-1]
    log_p, log_q = s.log_softmax(-1), q.log_softmax(-1)
    kl = (log_p.exp() * (log_p - log_q)).sum(-1, keepdim=True)
    expected = log_p.exp() * (log_p - log_q - kl)
    assert torch.allclose(student.grad[:, :-1], expected, atol=1e-5)
    assert (student.grad[:, -1] == 0).all()


@given(logit_pairs(), st.data())
def test_token_log_ratio_is_the_teachers_minus_the_students_log_prob_of_each_token(pair, data):
    student, teacher = pair
    b, t, v = student.shape
    tokens = torch.tensor(data.draw(st.lists(st.lists(st.integers(0, v - 1), min_size=t, max_size=t), min_size=b, max_size=b)))
    ratio = token_log_ratio(student, teacher, tokens)
    for i in range(b):
        for j in range(1, t):
            y = int(tokens[i, j])
            expected = teacher[i, j - 1].log_softmax(-1)[y] - student[i, j - 1].log_softmax(-1)[y]
            assert abs(float(ratio[i, j]) - float(expected)) < 1e-5


@st.composite
def groups(draw):
    """Rows of 1-3 problems, 2-4 responses each: the gold solution, a step made wrong, an
    early stop, or junk."""
    ids = draw(st.lists(st.integers(0, 10**5), min_size=1, max_size=3, unique=True))
    problems, texts = [], []
    for index in ids:
        problem = TASK.problem(index)
        gold = TASK.gold_solution(problem)
        for _ in range(draw(st.integers(2, 4))):
            kind = draw(st.sampled_from(["gold", "wrong", "stop", "junk"]))
            lines = gold.split("\n")
            if kind == "wrong":
                head, result = lines[0].rsplit("=", 1)
                lines[0] = f"{head}={int(result) + draw(st.integers(1, 5))}"
            text = {"gold": gold, "wrong": "\n".join(lines), "stop": lines[0] + "\n", "junk": "1+=\n"}[kind]
            problems.append(problem)
            texts.append(text)
    return Rollouts.from_texts(TASK, problems, texts)


@given(groups(), st.sampled_from(["indicative", "located", "corrective", "solution"]))
def test_teacher_rows_hold_the_quoted_feedback_then_the_students_response_tokens(rollouts, level):
    tok = CharTokenizer()
    inputs = teacher_inputs(rollouts, TASK, tok, level)
    for b in range(len(rollouts)):
        prompt = TASK.prompt(rollouts.problems[b])
        start, length = int(rollouts.prompt_lens[b]), int(rollouts.response_lens[b])
        expected_prompt = tok.encode(teacher_prompt(prompt, inputs.feedback[b]), bos=True)
        row = inputs.tokens[b].tolist()
        assert row[: len(expected_prompt)] == expected_prompt
        shift = int(inputs.shift[b])
        assert shift == len(expected_prompt) - start
        assert row[start + shift : start + shift + length] == rollouts.tokens[b, start : start + length].tolist()
        if inputs.feedback[b]:
            assert all(line.startswith(QUOTE) for line in tok.decode(row[len(tok.encode(prompt, bos=True)) : len(expected_prompt)]).splitlines())
        else:
            assert shift == 0
    if level == "solution":  # a row's solution comes from another row of its group, never its own
        for b, text in enumerate(inputs.feedback):
            others = [rollouts.texts[o] for o in range(len(rollouts)) if o != b and rollouts.group[o] == rollouts.group[b]
                      and rollouts.verdicts[o].process_correct]
            assert text == (others[0] if others else "")


def random_policy(seed=0):
    torch.manual_seed(seed)
    return TinyPolicy(TinyLlama(ModelConfig(vocab_size=CharTokenizer().vocab_size, d_model=32, n_layers=1, n_heads=2,
                                            n_kv_heads=2, d_ff=64)))


@given(groups(), st.sampled_from(["located", "solution"]))
def test_aligned_teacher_logits_score_the_same_response_prefix_as_a_separate_forward(rollouts, level):
    policy = random_policy()
    inputs = teacher_inputs(rollouts, TASK, policy.tokenizer, level)
    width = rollouts.tokens.shape[1]
    aligned = teacher_logits(policy, inputs, width, torch.device("cpu"))
    for b in range(len(rollouts)):
        start, length = int(rollouts.prompt_lens[b]), int(rollouts.response_lens[b])
        row = inputs.tokens[b : b + 1, : start + int(inputs.shift[b]) + length]
        alone = policy.logits(row)[0].detach()
        for p in range(start - 1, start + length - 1):  # the positions predicting response tokens
            assert torch.allclose(aligned[b, p], alone[p + int(inputs.shift[b])], atol=1e-4)
        if not inputs.feedback[b]:  # no feedback: the teacher is the student
            student = policy.logits(rollouts.tokens[b : b + 1])[0].detach()
            kl = token_kl(student[None], aligned[b : b + 1])[0]
            assert torch.allclose(kl[start : start + length], torch.zeros(length), atol=1e-5)


def test_align_places_each_teacher_position_at_the_student_position_it_matches():
    teacher = torch.arange(2 * 5 * 1, dtype=torch.float32).reshape(2, 5, 1)
    aligned = align_teacher_logits(teacher, torch.tensor([2, 0]), 4)
    assert aligned[0, :, 0].tolist() == [2, 3, 4, 0]  # position 3 + 2 is past the teacher row
    assert aligned[1, :, 0].tolist() == [5, 6, 7, 8]


def test_first_wrong_step_auroc_is_one_for_a_signal_on_exactly_those_tokens_and_half_for_none():
    task = TASK
    problems = [task.problem(i) for i in range(6)]
    texts = []
    for p in problems:
        lines = task.gold_solution(p).split("\n")
        head, result = lines[1].rsplit("=", 1)
        texts.append("\n".join([lines[0], f"{head}={int(result) + 1}", *lines[2:]]))
    rollouts = Rollouts.from_texts(task, problems, texts)
    labels = first_wrong_step_labels(rollouts)
    assert all(first_wrong_step(v) == 1 for v in rollouts.verdicts)
    assert torch.equal(labels, (rollouts.step_ids == 1) & rollouts.response_mask)
    perfect = torch.where(labels, -2.0, 0.0) * rollouts.response_mask
    assert first_wrong_step_auroc(perfect, rollouts) == 1.0
    assert first_wrong_step_auroc(torch.zeros_like(perfect), rollouts) == 0.5
    assert first_wrong_step_auroc(-perfect, rollouts) == 0.0


def test_variants_declare_the_term_and_bad_parameters_are_one_error_naming_the_field():
    assert isinstance(build_distillation(VARIANTS["sdpo"]), SelfDistillation)
    assert VARIANTS["sdpo"].sources == () and VARIANTS["sdpo+grpo"].estimator == "grpo"
    assert build_distillation(VARIANTS["outcome-grpo"]) is None
    with pytest.raises(ConfigError, match="level='hint' is not allowed"):
        Variant(name="x", description="", sources=(), estimator="grpo", distillation=("sdpo", {"level": "hint"}))
    with pytest.raises(ConfigError, match="level='none' is not allowed"):
        Variant(name="x", description="", sources=(), estimator="grpo", distillation=("sdpo", {"level": "none"}))
    with pytest.raises(ConfigError, match="coef=0 is not allowed"):
        Variant(name="x", description="", sources=(), estimator="grpo", distillation=("sdpo", {"coef": 0}))
    with pytest.raises(ConfigError, match="distillation='sdp' is not allowed"):
        Variant(name="x", description="", sources=(), estimator="grpo", distillation=("sdp", {}))
