import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

import toy_envs
from sandbox.cli import main
from sandbox.config import field_docs
from sandbox.model.model import ModelConfig
from sandbox.model.sampler import SamplingConfig
from sandbox.train.sft import SFTConfig
from toy_envs.base import ConfigError


@pytest.mark.parametrize("cls", [ModelConfig, SFTConfig, SamplingConfig, *toy_envs.TASKS.values()])
def test_every_config_field_has_a_one_line_doc(cls):
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        assert docs.get(f.name), f"{cls.__name__}.{f.name} has no doc"


def test_help_lists_every_field_with_its_doc(capsys):
    with pytest.raises(SystemExit):
        main(["sft", "--task", "tree", "--help"])
    out = capsys.readouterr().out
    for f in dataclasses.fields(toy_envs.TreePuzzle):
        assert "--task-" + f.name.replace("_", "-") in out
    assert field_docs(SFTConfig)["lr"].split()[0] in out


@pytest.mark.parametrize(
    "argv,flag",
    [
        (["sft", "--task-n-steps", "0"], "--task-n-steps=0"),
        (["sft", "--sft-steps", "0"], "--sft-steps=0"),
        (["sft", "--model-n-kv-heads", "3"], "--model-n-kv-heads=3 is not allowed: a divisor of --model-n-heads=4"),
        (["sft", "--task", "tree", "--task-branching", "9"], "--task-branching=9"),
        (["sft", "--task", "nope"], "--task='nope'"),
    ],
)
def test_bad_input_is_one_clear_error_naming_the_flag_before_compute(tmp_path, capsys, argv, flag):
    out_dir = tmp_path / "run"
    assert main([*argv, "--out", str(out_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"reward-sandbox: error: {flag}") and "not allowed" in err, err
    assert not out_dir.exists()


def test_sft_refuses_an_existing_directory(tmp_path, capsys):
    assert main(["sft", "--out", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_sft_writes_a_checkpoint_that_eval_reads(tmp_path, capsys):
    out = tmp_path / "ckpt"
    argv = ["sft", "--out", str(out), "--task-n-steps", "1", "--sft-steps", "2", "--sft-eval-problems", "0"]
    argv += ["--model-d-model", "32", "--model-n-layers", "1", "--model-n-heads", "2", "--model-n-kv-heads", "2"]
    assert main(argv) == 0
    assert (out / "model.safetensors").exists() and (out / "state.json").exists()
    assert main(["eval", "--checkpoint", str(out), "--task-n-steps", "1", "--problems", "8"]) == 0
    assert '"eval/accuracy"' in capsys.readouterr().out
    mixed = ["--task-n-steps-mix", "1:1,2:1", "--problems", "8", "--pass-k", "4", "--pass-problems", "3"]
    assert main(["eval", "--checkpoint", str(out), *mixed, "--plot", str(tmp_path / "pass.png")]) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "pass.png").stat().st_size > 0 and "pass@k curve:" in printed
    assert main(["eval", "--checkpoint", str(out), *mixed, "--plot", str(tmp_path / "pass.png")]) == 2  # never overwritten
    assert main(["eval", "--checkpoint", str(out), "--plot", str(tmp_path / "other.png")]) == 2  # no curve to draw
    assert "--plot=" in capsys.readouterr().err
    for key in ("eval/process_accuracy", "eval/accuracy@len1", "eval/process_pass@4", "eval/pass@2", "eval/process_pass@1@len2"):
        assert f'"{key}"' in printed
    assert main(["eval", "--checkpoint", str(out), "--task-n-steps-mix", "1:1,1:2"]) == 2
    assert main(["eval", "--checkpoint", str(out), "--pass-k", "-1"]) == 2
    assert "--task-n-steps-mix=" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [["train"], ["sft"], ["eval"], ["warmstart"], ["variants"], ["demo"], ["bench", "learn"], ["bench", "tree"],
     ["bench", "sampler"], ["bench", "hack"], ["bench", "trl"], ["prm", "train"], ["prm", "bench"], ["prm", "recipe"], ["prm", "search"],
     ["experiment", "run"], ["experiment", "report"], ["experiment", "check"]],
    ids=" ".join,
)
def test_every_command_prints_its_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0 and "usage:" in capsys.readouterr().out


def test_tuple_fields_are_comma_separated_flags_with_readable_defaults(capsys):
    """A tuple field's flag takes its items comma-separated and its help shows the default the
    same way; a wrong item is one error naming the field before anything runs."""
    import argparse

    from sandbox.bench.edge import EdgeBenchConfig
    from sandbox.config import add_dataclass_args, dataclass_from_args
    from sandbox.train.rl import RLConfig

    parser = argparse.ArgumentParser()
    add_dataclass_args(parser, RLConfig)
    add_dataclass_args(parser, EdgeBenchConfig, prefix="edge_")
    text = parser.format_help()
    assert "(default: 0.9,0.99)" in text and "(default: edge,edge-control)" in text and "(default: 0,1,2,3,4)" in text
    args = parser.parse_args(["--adam-betas", "0.9, 0.999", "--edge-seeds", "3,1", "--edge-presets", "edge"])
    assert dataclass_from_args(RLConfig, args).adam_betas == (0.9, 0.999)
    edge = dataclass_from_args(EdgeBenchConfig, args, prefix="edge_")
    assert edge.seeds == (3, 1) and edge.presets == ("edge",)
    defaults = dataclass_from_args(EdgeBenchConfig, parser.parse_args([]), prefix="edge_")
    assert defaults == EdgeBenchConfig()
    for argv, message in [(["bench", "learn", "--testbed", "edge", "--edge-seeds", "0,x"], "seeds='0,x' is not allowed: comma-separated integers"),
                          (["bench", "learn", "--testbed", "edge", "--edge-seeds", ""], "seeds=() is not allowed"),
                          (["train", "--run-dir", "/nonexistent/run", "--adam-betas", "0.9"], "--adam-betas='0.9' is not allowed: two comma-separated numbers"),
                          (["train", "--run-dir", "/nonexistent/run", "--adam-betas", "0.9,nan"], "--adam-betas=(0.9, nan) is not allowed"),
                          (["bench", "hack", "--variants", "dro,,dro+gate"], "variants='dro,,dro+gate' is not allowed: comma-separated names")]:
        assert main(argv) == 2
        assert message in capsys.readouterr().err


@given(st.lists(st.integers(-10**6, 10**6), max_size=6), st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=2, max_size=2),
       st.lists(st.text("abcdefghij-+_:.", min_size=1, max_size=8), max_size=4))
def test_parse_tuple_reads_back_what_a_comma_join_wrote(ints, floats, names):
    from sandbox.config import parse_tuple

    assert parse_tuple("f", ",".join(map(str, ints)), tuple[int, ...]) == tuple(ints)
    assert parse_tuple("f", ",".join(map(repr, floats)), tuple[float, float]) == tuple(floats)
    assert parse_tuple("f", " , ".join(names), tuple[str, ...]) == tuple(names)
    with pytest.raises(ConfigError, match=r"^f=.* is not allowed: two comma-separated numbers"):
        parse_tuple("f", ",".join(map(repr, floats + floats[:1])), tuple[float, float])


def test_a_mistyped_variant_gets_a_suggestion_and_brier_needs_a_confidence_line(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "--variant", "outcome-grp", "--run-dir", str(run_dir)]) == 2
    assert "--variant='outcome-grp' is not allowed: did you mean 'outcome-grpo'?" in capsys.readouterr().err
    for command in (["train", "--run-dir", str(run_dir)], ["demo", "--run-dir", str(run_dir)]):
        assert main([*command, "--variant", "brier", "--steps", "1"]) == 2
        err = capsys.readouterr().err
        assert "--variant='brier' is not allowed" in err and "confidence line" in err, err
    assert not run_dir.exists()


def test_help_says_what_a_sentinel_default_means(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: -1.0)" not in out and "(default: )" not in out
    assert "--clip-low CLIP_LOW ε_low; negative = the variant's value (default 0.2). (default: the variant's value)" in out


def test_train_saves_a_plot_of_its_metrics(tmp_path, capsys):
    run_dir = tmp_path / "run"
    argv = ["train", "--steps", "2", "--problems-per-step", "2", "--group-size", "2", "--eval-problems", "4",
            "--pass-problems", "0", "--drift-every", "0", "--threads", "1", "--progress", "false", "--run-dir", str(run_dir)]
    assert main(argv) == 0
    assert f"plot: {run_dir / 'metrics.png'}" in capsys.readouterr().out
    assert (run_dir / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
