"""The judge table's outcome verdict by voting (sandbox.experiments.judge_table.majority_verdicts)
against a hand count, and its accuracy."""

from hypothesis import given
from hypothesis import strategies as st

from sandbox.experiments.judge_table import majority_verdicts, verdict_accuracy
from sandbox.prm.generative import JudgeScores

FINAL_LINES = {True: "17+2=19 Y\n#19 Y\nall Y\n", False: "17+2=18 N\n#19 Y\nall N\n", None: "17+2=19 Y\n#19"}


@given(st.lists(st.tuples(st.lists(st.sampled_from([True, False, None]), min_size=1, max_size=6),
                          st.floats(0.0, 1.0)), min_size=1, max_size=5))
def test_majority_vote_counts_the_final_verdicts_and_breaks_ties_by_the_mean_probability(rows):
    scores = JudgeScores(steps=[[] for _ in rows], solution=[p for _, p in rows],
                         chains=[[FINAL_LINES[v] for v in votes] for votes, _ in rows])
    for (votes, mean_p), verdict in zip(rows, majority_verdicts(scores)):
        yes, no = votes.count(True), votes.count(False)
        assert verdict == (yes > no if yes != no else mean_p >= 0.5)


def test_a_second_pass_decides_the_chain_s_vote():
    chain = "17+2=19 Y\nall Y\nagain\n17+2=18 N\nall N\n"
    scores = JudgeScores(steps=[[]], solution=[0.9], chains=[[chain, chain, FINAL_LINES[True]]])
    assert majority_verdicts(scores) == [False]
    assert verdict_accuracy([False, True, True], [False, False, True]) == 2 / 3
