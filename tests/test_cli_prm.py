"""``reward-sandbox prm``: bad values rejected before compute; a trained PRM is usable as RLConfig.prm."""

import pytest

from sandbox.cli import main
from sandbox.train import recipes


def test_bad_values_are_rejected_naming_the_field(capsys):
    assert main(["prm", "bench", "--scorers", "oracle-valid,human"]) == 2
    assert "scorers=" in capsys.readouterr().err
    assert main(["prm", "train", "--out", "/tmp/unused-prm", "--train-labels", "nope"]) == 2
    assert "labels=" in capsys.readouterr().err
    assert main(["prm", "search", "--n-max", "0"]) == 2


def test_prm_train_writes_a_checkpoint_that_the_recipe_table_loads(tmp_path, capsys):
    out = tmp_path / "prm"
    args = ["prm", "train", "--out", str(out), "--train-n-problems", "4", "--train-group-size", "2",
            "--train-steps", "2", "--train-batch-size", "4"]
    assert main(args) == 0
    assert "PRM checkpoint" in capsys.readouterr().out
    assert recipes.load(str(out), "prm").head.weight.shape[-1] == recipes.load("tiny")[0].cfg.d_model  # the backbone's width
    assert main(args) == 2  # never overwritten


def test_prm_recipe_builds_any_cached_prm_or_judge_by_name(capsys):
    """One subcommand over the one recipe table: a PRM, a ThinkPRM judge and a StepWiser judge by
    name, each printed with its kind and the directory ``recipes.build`` gives; a warm start is
    ``reward-sandbox warmstart``'s, not this command's."""
    import pytest

    for name in ("tiny-oracle", "tiny-thinkprm", "tiny-stepwiser-fast"):
        assert main(["prm", "recipe", "--name", name]) == 0
        # the last line (a cold cache first announces the build)
        assert capsys.readouterr().out.strip().splitlines()[-1] == f"{recipes.RECIPES[name].kind} recipe '{name}': {recipes.build(name)}"
    with pytest.raises(SystemExit) as refused:
        main(["prm", "recipe", "--name", "tiny"])
    assert refused.value.code == 2 and "invalid choice: 'tiny'" in capsys.readouterr().err


@pytest.mark.slow
def test_prm_bench_scores_a_cached_recipe_as_trained_on_the_mixture_asked_for(capsys, monkeypatch):
    """A recipe name among ``--scorers`` is evaluated as cached (no training, so its row equals
    ``evaluate_scorer`` of the loaded scorer on the same bench), and ``--mix`` replaces the warm
    start's length mixture for the bench (every bench problem then has that length)."""
    from sandbox.eval import processbench
    from sandbox.experiments.prm_table import PRMTableConfig, run_prm_table
    from sandbox.prm.discriminative import step_scores

    assert main(["prm", "bench", "--mix", "4:x"]) == 2 and "--mix='4:x'" in capsys.readouterr().err
    built = {}
    original = processbench.build_processbench
    monkeypatch.setattr("sandbox.experiments.prm_table.build_processbench",
                        lambda policy, task, *a: built.setdefault("bench", (task, original(policy, task, *a)))[1])
    results = run_prm_table(PRMTableConfig(init="tiny", scorers=("tiny-mc",), bench_problems=64, bench_group=4, mix="1:1,2:1"))
    task, bench = built["bench"]
    assert task.lengths() == (1, 2)
    scorer = recipes.load("tiny-mc")
    expected = processbench.evaluate_scorer(lambda r: step_scores(scorer, r), bench)
    (row,) = results["bench"]
    assert row["scorer"] == "tiny-mc" and row["solutions"] == 64 * 2 and {k: row[k] for k in expected} == expected


@pytest.mark.slow
def test_prm_bench_execution_rows_score_the_same_trained_judges_with_execution(monkeypatch):
    """``thinkprm-exec`` is the execution ablation of ``thinkprm`` at each label budget: the judges
    are trained once per seed and budget (both names score the same pair), and its row is
    ``evaluate_scorer`` of that judge with ``JudgeConfig.execute`` on the same bench."""
    from sandbox.eval import processbench
    from sandbox.experiments import prm_table
    from sandbox.prm.generative import JudgeConfig, judge_score_fn

    import sandbox.train.judge_sft as judge_sft

    trained, built = [], {}
    original_bench, real_train = processbench.build_processbench, judge_sft.train_thinkprm
    monkeypatch.setattr(judge_sft, "train_thinkprm", lambda *a, **k: trained.append(real_train(*a, **k)) or trained[-1])
    import sandbox.prm.generative as generative

    executed, real_score_fn = [], generative.judge_score_fn
    monkeypatch.setattr(generative, "judge_score_fn",
                        lambda judge, task, cfg, seed: executed.append(cfg.execute) or real_score_fn(judge, task, cfg, seed))
    monkeypatch.setattr("sandbox.experiments.prm_table.build_processbench",
                        lambda policy, task, *a: built.setdefault("bench", (task, original_bench(policy, task, *a)))[1])
    cfg = prm_table.PRMTableConfig(init="tiny", scorers=("thinkprm", "thinkprm-exec"), budgets=(0.01,), bench_problems=64,
                                   bench_group=2, judge_chains=1)
    results = prm_table.run_prm_table(cfg)
    assert len(trained) == 1
    task, bench = built["bench"]
    student = trained[0][1]
    rows = {row["scorer"]: row for row in results["bench"]}
    for name, execute in (("thinkprm", False), ("thinkprm-exec", True)):
        expected = processbench.evaluate_scorer(judge_score_fn(student, task, JudgeConfig(n_chains=1, execute=execute), 0), bench)
        assert {k: rows[name][k] for k in expected} == expected, name
    assert executed == [False, True]  # the configs the table scored with, in scorer order
