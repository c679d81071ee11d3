"""MCTS over steps (sandbox/prm/mcts.py) and its label table (sandbox/experiments/mcts_table.py).

Invariants, with a scripted completer whose continuations are a pure function of (prefix, key):
the root is visited once per simulation; a node's visits beyond its children's are its own
evaluations (when found, sampled again, or re-scored), at least one, and one per simulation in all; Q ∈ [0, 1]; no node is expanded more than ``branches`` times; a tree does not depend on the
other problems of the batch; UCT prefers an unvisited child and, with c = 0, the larger Q; from a
prefix that is not the gold solution's the scripted completer never succeeds, so such nodes have
Q = 0, while every gold-prefix node on the path of a correct solution has Q > 0; the label table
runs end to end and its labels are scored against the oracle.
"""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.experiments.mcts_table import MCTSTableConfig, format_mcts_table, run_mcts_table
from sandbox.prm.mcts import MCTSConfig, Node, labelled_solutions, search, tree_graph, uct
from toy_envs import ArithmeticChain, ConfigError

TASK = ArithmeticChain(n_steps=3)


def scripted_completer(task, p_gold: float):
    """From a gold prefix: the rest of the gold solution with probability p_gold (keyed), otherwise
    one wrong step and a wrong answer; from any other prefix: the wrong continuation."""

    def complete(requests):
        out = []
        for r in requests:
            gold = task.gold_solution(r.problem)
            rng = random.Random(r.key * 7919 + len(r.prefix))
            if gold.startswith(r.prefix) and rng.random() < p_gold:
                out.append(gold[len(r.prefix):])
            else:
                out.append(f"{rng.randint(100, 999)}+1=5\n#5\n")
        return out

    return complete


@given(simulations=st.integers(1, 24), branches=st.integers(1, 4), c=st.sampled_from([0.0, 0.5, 2.0]),
       p_gold=st.sampled_from([0.0, 0.5, 1.0]), seed=st.integers(0, 3))
def test_visit_counts_values_and_expansions_obey_the_tree_invariants(simulations, branches, c, p_gold, seed):
    problems = [TASK.problem(i) for i in range(3)]
    cfg = MCTSConfig(simulations=simulations, branches=branches, c_uct=c)
    trees = search(problems, TASK, scripted_completer(TASK, p_gold), cfg, seed)
    for tree in trees:
        assert tree.nodes[0].visits == simulations
        evaluated = 0
        for index, node in enumerate(tree.nodes):
            assert 0.0 <= node.q <= 1.0 and node.expansions <= branches and len(node.children) <= node.expansions
            if index:
                own = node.visits - sum(tree.nodes[c].visits for c in node.children.values())
                assert own >= 1  # evaluated when found, and again when sampled again or re-scored
                evaluated += own
                if not TASK.gold_solution(tree.problem).startswith(node.prefix):
                    assert node.q == 0.0  # nothing below a wrong step ever succeeds
        assert evaluated == simulations  # each simulation evaluates one leaf
        for text, qs in labelled_solutions(tree, TASK):
            verdict = TASK.score(tree.problem, text)
            assert len(qs) == len(verdict.steps)
            if verdict.correct:
                assert all(q > 0 for q in qs)


def test_a_tree_does_not_depend_on_the_other_problems_of_the_batch():
    cfg, completer = MCTSConfig(simulations=12, branches=2), scripted_completer(TASK, 0.5)
    batch = search([TASK.problem(i) for i in range(4)], TASK, completer, cfg, seed=1)
    alone = search([TASK.problem(2)], TASK, completer, cfg, seed=1)
    assert [(n.prefix, n.visits, n.value_sum) for n in batch[2].nodes] == [(n.prefix, n.visits, n.value_sum) for n in alone[0].nodes]


def test_uct_prefers_an_unvisited_child_and_without_exploration_the_larger_q():
    parent = Node("", "", -1, 0, visits=10)
    low, high, fresh = Node("a", "a", 0, 1, visits=5, value_sum=1.0), Node("b", "b", 0, 1, visits=2, value_sum=1.6), Node("c", "c", 0, 1)
    assert uct(parent, fresh, 1.0) == float("inf")
    assert uct(parent, high, 0.0) > uct(parent, low, 0.0)
    assert uct(parent, low, 5.0) - uct(parent, low, 0.0) == pytest.approx(5.0 * (2.302585 / 5) ** 0.5, rel=1e-5)


def test_the_search_finds_the_gold_solution_and_draws_as_a_graph():
    tree = search([TASK.problem(0)], TASK, scripted_completer(TASK, 1.0), MCTSConfig(simulations=4, branches=1), seed=0)[0]
    (text, qs), = labelled_solutions(tree, TASK)
    assert text == TASK.gold_solution(TASK.problem(0)) and qs == [1.0] * len(qs)
    graph, colours = tree_graph(tree)
    assert graph.number_of_nodes() == len(tree.nodes) and set(colours) == set(graph.nodes)


@pytest.mark.parametrize("field, value", [("simulations", 0), ("branches", 0), ("c_uct", -1.0), ("critic_weight", 1.5), ("max_depth", 0)])
def test_a_bad_setting_is_one_error_naming_it(field, value):
    with pytest.raises(ConfigError, match=field):
        MCTSConfig(**{field: value})


def test_a_critic_weight_needs_a_critic():
    with pytest.raises(ConfigError, match="critic"):
        search([TASK.problem(0)], TASK, scripted_completer(TASK, 1.0), MCTSConfig(critic_weight=0.5))


def test_the_critic_mixes_into_the_leaf_values():
    cfg = MCTSConfig(simulations=6, branches=2, critic_weight=1.0)
    tree = search([TASK.problem(0)], TASK, scripted_completer(TASK, 0.0), cfg, critic=lambda problems, texts: [0.25] * len(texts))[0]
    assert all(n.q == pytest.approx(0.25) for n in tree.nodes[1:] if not n.terminal and n.visits == 1)


@pytest.mark.slow
def test_the_label_table_runs_and_scores_both_label_sets(warmstart_tiny):
    results = run_mcts_table(MCTSTableConfig(problems=6, seeds=(0,), simulations=6))
    row = results["per_seed"][0]
    assert set(row) == {"mcts-hard", "mcts-soft", "mc-hard", "mc-soft"}
    assert row["mcts-hard"]["samples_per_problem"] <= 6 and row["mc-hard"]["solutions"] == 6
    assert all(0.0 <= row[name]["pb_f1"] <= 1.0 for name in row)
    assert "| mcts-hard |" in format_mcts_table(results)


@pytest.mark.slow
def test_a_prm_trains_on_the_trees_solutions_with_their_q_labels(warmstart_tiny):
    from dataclasses import replace

    from sandbox.model.policy import TinyPolicy
    from sandbox.prm.discriminative import StepScorer
    from sandbox.train.prm_train import PRMTrainConfig, mcts_solutions, train_prm

    model, task, _ = warmstart_tiny
    cfg = PRMTrainConfig(labels="mcts-hard", n_problems=4, mcts_simulations=16, steps=2, batch_size=4)
    solutions, labels = mcts_solutions(TinyPolicy(model), task, cfg)
    assert len(solutions) == len(labels) >= 4 and set(solutions.problem_index.tolist()) <= set(range(4))
    for text, row, verdict in zip(solutions.texts, labels, solutions.verdicts):
        assert len(row) == len(verdict.steps) and set(row) <= {0.0, 1.0}
        if verdict.correct:
            assert all(row)  # a correct solution's nodes all led to a success
    scorer, info = train_prm(TinyPolicy(model), task, cfg)
    assert isinstance(scorer, StepScorer) and info["prm/solutions"] == len(solutions)
    with pytest.raises(ConfigError, match="labels"):
        replace(cfg, kind="orm").validate()


def test_ranked_solutions_put_the_right_ones_first_each_kind_by_q():
    from sandbox.prm.search_sampler import ranked_solutions

    tree = search([TASK.problem(1)], TASK, scripted_completer(TASK, 0.5), MCTSConfig(simulations=24, branches=3), seed=2)[0]
    ranked = ranked_solutions(tree, TASK)
    right = [TASK.score(tree.problem, text).correct for text, finished in ranked]
    assert all(finished for _, finished in ranked) and right == sorted(right, reverse=True)
    q = {node.prefix: node.q for node in tree.nodes}
    for kind in (True, False):
        values = [q[text] for (text, _), r in zip(ranked, right) if r == kind]
        assert values == sorted(values, reverse=True)


def test_the_search_sampler_gives_g_rows_per_problem_with_the_policys_log_probs_and_the_search_cost():
    import torch

    from sandbox.model.model import ModelConfig, TinyLlama, token_logprobs
    from sandbox.model.policy import TinyPolicy
    from sandbox.model.sampler import SamplingConfig
    from sandbox.prm.search_sampler import sample_search

    torch.manual_seed(0)
    policy = TinyPolicy(TinyLlama(ModelConfig(d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=64)))
    sampling = SamplingConfig(max_new_tokens=24, temperature=0.8)
    rows = sample_search(policy, TASK, [4, 9], 3, sampling, seed=1, step=5, simulations=5, branches=2)
    assert rows.group.tolist() == [4, 4, 4, 9, 9, 9] and rows.rollout_index.tolist() == [0, 1, 2] * 2
    expected = token_logprobs(policy.logits(rows.tokens), rows.tokens, 0.8) * rows.response_mask
    assert torch.allclose(rows.logprobs, expected, atol=1e-5)
    again = sample_search(policy, TASK, [9], 3, sampling, seed=1, step=5, simulations=5, branches=2)
    assert again.texts == rows.texts[3:] and float(again.extras["generated_tokens"].sum()) == float(rows.extras["generated_tokens"][3:].sum())
    assert float(rows.extras["generated_tokens"].sum()) > 0


def test_the_search_sampler_checks_its_options():
    from sandbox.prm.search_sampler import check_search_options

    with pytest.raises(ConfigError, match="simulations"):
        check_search_options(4, simulations=0)
