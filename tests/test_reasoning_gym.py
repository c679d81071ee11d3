"""reasoning-gym datasets as sandbox tasks: determinism, answer-level verdicts, no step oracle."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("reasoning_gym")

from sandbox.rewards.registry import compute_token_rewards, get_variant  # noqa: E402
from sandbox.rewards.base import RewardContext, sequence_rewards  # noqa: E402
from sandbox.rollout.rollouts import Rollouts  # noqa: E402
from toy_envs import TASKS, ConfigError, Task, make_task  # noqa: E402
from toy_envs.reasoning_gym import ReasoningGym, split_dataset, split_seed  # noqa: E402

CHAIN_SUM = ReasoningGym(dataset="chain_sum", options='{"min_terms": 2, "max_terms": 3, "max_digits": 2}')
any_text = st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=126), max_size=120)
indices = st.integers(0, 5_000)


def integer_sum(expression: str) -> int:
    """The value of a chain_sum expression ``a + b - c`` read token by token (an independent oracle)."""
    words = expression.split()
    total = int(words[0])
    for sign, number in zip(words[1::2], words[2::2]):
        total += int(number) if sign == "+" else -int(number)
    return total


def test_registered_as_a_task_that_follows_the_protocol():
    assert TASKS["reasoning_gym"] is ReasoningGym
    assert isinstance(CHAIN_SUM, Task)
    assert ReasoningGym.step_oracle is False
    assert make_task("reasoning_gym", dataset="basic_arithmetic").dataset == "basic_arithmetic"


@given(indices, st.sampled_from(["train", "eval"]))
def test_problem_is_deterministic_and_its_answer_is_the_expressions_value(index, split):
    problem = CHAIN_SUM.problem(index, split)
    assert problem == dataclasses.replace(CHAIN_SUM).problem(index, split)
    assert int(problem.answer) == integer_sum(problem.entry["metadata"]["expression"])
    assert CHAIN_SUM.prompt(problem) == problem.question + "\n"


def test_problems_survive_a_fresh_dataset_build():
    before = [CHAIN_SUM.problem(i) for i in range(20)]
    split_dataset.cache_clear()
    assert [CHAIN_SUM.problem(i) for i in range(20)] == before


def test_splits_use_disjoint_item_seeds_and_seeds_differ():
    train = split_seed("chain_sum", CHAIN_SUM.options, 0, "train", CHAIN_SUM.size)
    held_out = split_seed("chain_sum", CHAIN_SUM.options, 0, "eval", CHAIN_SUM.size)
    assert held_out == train + CHAIN_SUM.size and held_out + CHAIN_SUM.size < 2**32
    # the options are canonicalised: key order and spacing do not change the problems
    assert split_seed("chain_sum", '{"max_digits":2,"max_terms":3,"min_terms":2}', 0, "train", CHAIN_SUM.size) == train
    other = dataclasses.replace(CHAIN_SUM, seed=1)
    assert [CHAIN_SUM.problem(i).question for i in range(10)] != [other.problem(i).question for i in range(10)]
    assert [CHAIN_SUM.problem(i).question for i in range(10)] != [CHAIN_SUM.problem(i, "eval").question for i in range(10)]


@given(indices)
def test_gold_solution_is_correct_and_every_step_label_repeats_the_outcome(index):
    problem = CHAIN_SUM.problem(index)
    gold = CHAIN_SUM.score(problem, CHAIN_SUM.gold_solution(problem))
    assert gold.correct and gold.parse_status == "ok" and gold.first_error is None
    reasoning = f"{problem.entry['metadata']['expression']} is what I add\n"
    wrong = CHAIN_SUM.score(problem, reasoning + f"#{int(problem.answer) + 1}\n")
    assert not wrong.correct and wrong.parse_status == "ok" and wrong.first_error == 0
    assert wrong.step_valid == (False, False) and wrong.step_value == (0, 0)
    right = CHAIN_SUM.score(problem, reasoning + f"# {problem.answer} \n")
    assert right.correct and right.step_valid == (True, True) and right.step_value == (1, 1)


@given(indices, any_text)
def test_any_text_is_scored_without_raising_and_steps_partition_it(index, text):
    problem = CHAIN_SUM.problem(index)
    verdict = CHAIN_SUM.score(problem, text)
    assert "".join(step.text for step in verdict.steps) == text
    assert [step.index for step in verdict.steps] == list(range(len(verdict.steps)))
    assert len(verdict.step_valid) == len(verdict.step_value) == verdict.n_steps
    assert set(verdict.step_valid) <= {verdict.correct}
    stated = None if verdict.answer is None else verdict.answer
    assert verdict.correct == (stated == problem.answer)
    rubric = CHAIN_SUM.format_rubric(text)
    assert rubric.answer_present == rubric.well_formed == (verdict.parse_status == "ok")


def test_parse_status_and_rubric():
    problem = CHAIN_SUM.problem(0)
    assert CHAIN_SUM.score(problem, "no answer here\n").parse_status == "no_answer"
    assert CHAIN_SUM.score(problem, "#   \n").parse_status == "bad_answer"
    assert CHAIN_SUM.score(problem, "").steps == ()
    assert CHAIN_SUM.format_rubric("#\n").score == 0.0
    assert CHAIN_SUM.format_rubric("thinking\n#12\n").score == 1.0


def test_a_multi_line_answer_is_read_whole():
    task = ReasoningGym(dataset="rotate_matrix", options='{"min_n": 2, "max_n": 2}')
    problem = task.problem(3)
    assert "\n" in problem.answer
    assert task.score(problem, task.gold_solution(problem)).correct
    first_line_only = "#" + problem.answer.split("\n")[0] + "\n"
    assert not task.score(problem, first_line_only).correct


def test_partial_credit_counts_as_wrong():
    task = ReasoningGym(dataset="spell_backward")
    problem = task.problem(0)
    prefix = problem.answer[:-1]
    assert 0.0 < task.answer_score(problem, prefix) < 1.0
    assert not task.score(problem, "#" + prefix + "\n").correct
    # spell_backward sums 1/len per matching letter: a doubled word scores 1.0000000000000002, not a
    # clean 1.0 -- the exact comparison keeps that wrong answer wrong
    doubled = f"{problem.answer}{problem.answer}"
    assert task.answer_score(problem, doubled) != 1.0
    assert not task.score(problem, "#" + doubled + "\n").correct


@pytest.mark.parametrize(
    "fields,field_name",
    [
        ({"dataset": "no_such_dataset"}, "dataset"),
        ({"options": "[1, 2]"}, "options"),
        ({"options": "{not json"}, "options"),
        ({"options": '{"seed": 3}'}, "options"),
        ({"options": '{"colour": 3}'}, "options"),
        ({"options": '{"min_terms": 5, "max_terms": 2}'}, "options"),
        ({"size": 0}, "size"),
        ({"seed": "0"}, "seed"),
    ],
)
def test_bad_config_is_one_clear_error(fields, field_name):
    with pytest.raises(ConfigError, match=f"^{field_name}="):
        ReasoningGym(**fields)


def test_bad_problem_keys_raise():
    with pytest.raises(ConfigError, match="^index="):
        CHAIN_SUM.problem(CHAIN_SUM.size)
    with pytest.raises(ConfigError, match="^split="):
        CHAIN_SUM.problem(0, "test")


def test_registry_rewards_run_on_it():
    problems = [CHAIN_SUM.problem(i) for i in (0, 0, 1)]
    texts = [CHAIN_SUM.gold_solution(problems[0]), "#nonsense\n", "thinking\n" + CHAIN_SUM.gold_solution(problems[2])]
    rollouts = Rollouts.from_texts(CHAIN_SUM, problems, texts)
    ctx = RewardContext(task=CHAIN_SUM)
    outcome = sequence_rewards(compute_token_rewards(get_variant("outcome-grpo"), rollouts, ctx), rollouts.response_mask)
    assert outcome.tolist() == [1.0, 0.0, 1.0]
    fmt = sequence_rewards(compute_token_rewards(get_variant("format-only"), rollouts, ctx), rollouts.response_mask)
    assert fmt.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "size, fields, named",
    [
        (63, {"steps": 4, "problems_per_step": 16, "eval_problems": 8, "pass_problems": 0}, "64 train problems"),
        (100, {"variant": "dapo", "steps": 4, "problems_per_step": 16, "max_draws": 2, "eval_problems": 8, "pass_problems": 0},
         "128 train problems"),
        (100, {"steps": 1, "problems_per_step": 4, "eval_problems": 256, "pass_problems": 0}, "256 held-out problems"),
    ],
)
def test_a_task_smaller_than_the_run_is_one_error_naming_task_size(size, fields, named):
    from sandbox.train.rl import RLConfig, Trainer

    task = dataclasses.replace(CHAIN_SUM, size=size)
    with pytest.raises(ConfigError, match=f"^task_size={size} is not allowed: at least the {named}"):
        Trainer(RLConfig(**fields), task, policy=None)


def test_a_run_that_fits_its_task_passes_the_size_check():
    from sandbox.train.rl_config import RLConfig, check_task_size, train_problems_needed

    cfg = RLConfig(variant="dapo", steps=4, problems_per_step=16, max_draws=2, eval_problems=64, pass_problems=64)
    assert train_problems_needed(cfg) == 128
    check_task_size(cfg, dataclasses.replace(CHAIN_SUM, size=128))


def test_the_cli_rejects_a_small_task_size_before_creating_the_run_directory(tmp_path, capsys):
    from sandbox.cli import main

    run_dir = tmp_path / "run"
    argv = ["train", "--task", "reasoning_gym", "--task-size", "50", "--steps", "4", "--problems-per-step", "16",
            "--run-dir", str(run_dir)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--task-size=50 is not allowed" in err[0]
    assert not run_dir.exists()


def test_the_default_response_budget_leaves_room_for_reasoning():
    from sandbox.eval.accuracy import default_max_new_tokens

    longest = max(len(CHAIN_SUM.gold_solution(CHAIN_SUM.problem(i))) for i in range(256))
    assert default_max_new_tokens(CHAIN_SUM) == longest + 16 + 1 + ReasoningGym.reasoning_room
    assert ReasoningGym.reasoning_room >= 64
    # a task with fewer problems than the budget's probe is probed whole
    assert default_max_new_tokens(dataclasses.replace(CHAIN_SUM, size=5)) > ReasoningGym.reasoning_room
