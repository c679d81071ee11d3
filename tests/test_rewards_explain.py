"""``reward-sandbox variants --explain NAME``: every piece of every variant with its file and equation."""

from pathlib import Path

import pytest

from sandbox.cli import main
from sandbox.rewards.explain import equation, explain_variant
from sandbox.rewards.registry import ESTIMATORS, FILTERS, SOURCES, VARIANTS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_piece_is_named_with_an_existing_file(name):
    text = explain_variant(name)
    variant = VARIANTS[name]
    assert text.startswith(f"{name}: {variant.description}")
    pieces = [s for s, _, _ in variant.sources] + [f for f, _ in variant.filters] + [variant.estimator, variant.sampler]
    for piece in pieces:
        assert any(line.split()[1:2] == [piece] for line in text.splitlines()), piece
    files = [word for line in text.splitlines() for word in line.split() if word.endswith(".py")]
    assert files and all((ROOT / f).is_file() for f in files)


def test_the_equation_is_the_docstring_block_under_the_summary():
    assert equation(ESTIMATORS["grpo"]) == ["A_{i,t} = (R_i − mean_g(R)) / (std_g(R) + eps)      for every response token t of row i"]
    assert equation(FILTERS["variance_filter"])[0].startswith("keep group g  iff  Var_{i∈g}(m_i) > 0")
    assert all(equation(source) for source in SOURCES.values())


def test_the_command_prints_it_and_refuses_an_unknown_name(capsys):
    assert main(["variants", "--explain", "prime"]) == 0
    out = capsys.readouterr().out
    assert "prime_rloo (whiten=True)   sandbox/rewards/prime_rloo.py" in out
    assert main(["variants", "--explain", "nope"]) == 2
    assert "variant='nope' is not allowed" in capsys.readouterr().err
