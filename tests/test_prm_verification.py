"""Verification chains (templated, parsed, verdict offsets) and ThinkPRM's process filter."""

import random

from hypothesis import given
from hypothesis import strategies as st

from sandbox.prm.generative import end_of_pass, judge_input
from sandbox.prm.verification import AGAIN, CHECK, NO, YES, parse_passes, template_chain, verdict_offsets
from sandbox.train.judge_sft import chain_matches, process_filter
from toy_envs import make_task

TASK = make_task("arithmetic", n_steps=3)


@st.composite
def solutions(draw):
    """(steps, labels, modulus): a response of 1..4 step lines (some unparseable) and an answer line."""
    modulus = draw(st.sampled_from([None, 7, 97]))
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()) or not lines:
            a, b, c = draw(st.integers(0, 99)), draw(st.integers(1, 9)), draw(st.integers(0, 120))
            lines.append(f"{a}{draw(st.sampled_from('+-*'))}{b}={c}\n")
        else:
            lines.append(draw(st.sampled_from(["x\n", "12+=4\n", "?\n"])))
    lines.append(f"#{draw(st.integers(0, 120))}\n")
    steps = TASK.segment("".join(lines))
    labels = draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0]), min_size=len(steps), max_size=len(steps)))
    return steps, labels, modulus


@given(solutions(), st.integers(1, 3), st.integers(0, 2**16))
def test_error_free_template_states_the_labels(case, passes, seed):
    steps, labels, modulus = case
    chain = template_chain(steps, labels, modulus, 0.0, random.Random(seed), passes)
    parsed = parse_passes(chain)
    assert len(parsed) == passes
    for verdicts, final in parsed:
        assert verdicts == [y >= 0.5 for y in labels]
        assert final == all(y >= 0.5 for y in labels)


@given(solutions(), st.integers(1, 3), st.integers(0, 2**16))
def test_always_wrong_template_flips_every_verdict(case, passes, seed):
    steps, labels, modulus = case
    chain = template_chain(steps, labels, modulus, 1.0, random.Random(seed), passes)
    for verdicts, final in parse_passes(chain):
        assert verdicts == [y < 0.5 for y in labels]
        assert final == all(y < 0.5 for y in labels)


@given(solutions(), st.integers(1, 3), st.floats(0, 1), st.integers(0, 2**16))
def test_verdict_offsets_point_at_the_last_pass(case, passes, error_rate, seed):
    steps, labels, modulus = case
    chain = template_chain(steps, labels, modulus, error_rate, random.Random(seed), passes)
    offsets, final = verdict_offsets(chain)
    verdicts, final_verdict = parse_passes(chain)[-1]
    assert len(offsets) == len(steps)
    assert all(o > chain.rfind(AGAIN) for o in [*offsets, final])
    assert [chain[o] == YES for o in offsets] == verdicts
    assert all(chain[o] in (YES, NO) and chain[o - 1] == " " and chain[o + 1] == "\n" for o in offsets)
    assert chain[final] == (YES if final_verdict else NO)
    # each pass is internally consistent: the final verdict is "every step good"
    assert all(f == all(v) for v, f in parse_passes(chain))
    # a pass ends just after its final line; the chain ends there too
    assert end_of_pass(chain, chain.rfind(AGAIN) + len(AGAIN) if passes > 1 else 0) == len(chain)


@given(solutions(), st.floats(0, 1), st.integers(0, 2**16))
def test_parse_round_trips_a_pass(case, error_rate, seed):
    steps, labels, modulus = case
    chain = template_chain(steps, labels, modulus, error_rate, random.Random(seed), 1)
    verdicts, final = parse_passes(chain)[0]
    rebuilt = "".join(line[:-1] + (YES if v else NO) + "\n" for line, v in zip(chain.split("\n"), verdicts))
    assert rebuilt + f"all {YES if final else NO}\n" == chain


def test_judge_input_ends_with_check():
    assert judge_input("3 +4\n", "3+4=7\n#7\n") == "3 +4\n3+4=7\n#7\n" + CHECK
    assert judge_input("3 +4\n", "3+4=7") == "3 +4\n3+4=7\n" + CHECK


@given(st.lists(st.tuples(solutions(), st.floats(0, 1), st.integers(0, 3), st.integers(0, 2**16)), min_size=1, max_size=12))
def test_process_filter_keeps_exactly_the_matching_chains(rows):
    chains, labels = [], []
    for (steps, row_labels, modulus), error_rate, cut, seed in rows:
        chain = template_chain(steps, row_labels, modulus, error_rate, random.Random(seed), 1 + seed % 2)
        chains.append(chain[: len(chain) - cut])  # some chains truncated (no final line)
        labels.append(row_labels)
    kept, rejected = process_filter(chains, labels)
    assert rejected == 1 - sum(kept) / len(kept)
    for chain, row_labels, keep in zip(chains, labels, kept):
        verdicts, final = parse_passes(chain)[-1]
        truth = [y >= 0.5 for y in row_labels]
        assert keep == (verdicts == truth and final == all(truth))
        assert keep == chain_matches(chain, row_labels)


@given(solutions(), st.integers(0, 2**16))
def test_error_free_chains_pass_the_filter_and_flipped_ones_do_not(case, seed):
    steps, labels, modulus = case
    assert chain_matches(template_chain(steps, labels, modulus, 0.0, random.Random(seed), 2), labels)
    assert not chain_matches(template_chain(steps, labels, modulus, 1.0, random.Random(seed), 2), labels)
