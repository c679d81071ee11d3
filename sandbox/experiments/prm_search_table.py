"""``reward-sandbox prm search``: best-of-N (and step-level beam search) guided by a trained PRM.

A PRM is trained on samples of the warm start, N candidates per held-out problem are reranked
by each step-to-trajectory aggregation of its scores, and the table prints accuracy against N
next to pass@N (a perfect reranker). With ``beam``, step-level beam search with N = B*E samples
per round is ranked by the PRM and by the oracle's step validity.
"""

from __future__ import annotations

from toy_envs.base import check


def prm_search_table(init: str, problems: int, n_max: int, beam: bool, train_cfg) -> None:
    """Print the markdown table (one row per reranker, one column per N = 1, 2, 4, ... <= ``n_max``)."""
    from sandbox.eval.beam_search import beam_search_accuracy
    from sandbox.eval.prm_search import best_of_n, sample_candidates
    from sandbox.model.policy import TinyPolicy
    from sandbox.prm.trajectory_score import TRAJECTORY_SCORES, trajectory_score
    from sandbox.prm.discriminative import step_scores
    from sandbox.prm.oracle_labels import oracle_labels
    from sandbox.train import recipes
    from sandbox.train.prm_train import train_prm

    check(problems >= 1, "problems", "an integer >= 1", problems)
    check(n_max >= 1, "n_max", "an integer >= 1", n_max)
    model, task, _ = recipes.load(init)
    policy = TinyPolicy(model)
    scorer, _ = train_prm(policy, task, train_cfg)
    candidates = sample_candidates(policy, task, problems, n_max, seed=train_cfg.seed)
    scores = step_scores(scorer, candidates)
    ns = [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= n_max]
    print("| reranker | " + " | ".join(f"N={n}" for n in ns) + " |")
    print("|---|" + "---|" * len(ns))
    for how in TRAJECTORY_SCORES:
        table = best_of_n(candidates, [trajectory_score(s, how) for s in scores], n_max, ns)
        print(f"| PRM ({train_cfg.labels}), {how} | " + " | ".join(f"{table[n]['accuracy']:.3f}" for n in ns) + " |")
    print("| pass@N (a perfect reranker) | " + " | ".join(f"{table[n]['pass']:.3f}" for n in ns) + " |")
    if beam:
        held_out = [task.problem(i, split="eval") for i in range(problems)]
        guides = {f"PRM ({train_cfg.labels})": lambda r: step_scores(scorer, r), "oracle step validity": lambda r: oracle_labels(r.verdicts, "valid")}
        for name, score_fn in guides.items():
            for how in ("last", "min"):
                accs = [beam_search_accuracy(policy, task, held_out, score_fn, beam_config(n, how, train_cfg.seed)) for n in ns]
                print(f"| beam search, {name}, {how} | " + " | ".join(f"{a:.3f}" for a in accs) + " |")


def beam_config(n: int, how: str, seed: int):
    """N = B·E samples per round with B the largest power of two whose square is at most N."""
    from sandbox.eval.beam_search import BeamSearchConfig

    width = 1
    while (2 * width) ** 2 <= n:
        width *= 2
    return BeamSearchConfig(beam_width=width, expansions=max(1, n // width), aggregation=how, seed=seed)
