"""Step-level beam search guided by a step scorer (a PRM, a judge, or the oracle).

Per problem, with beam width B and E expansions per beam (N = B·E samples per round):

    frontier ← {empty response}                       (the first round samples B·E first steps)
    repeat up to max_steps rounds:
        for each partial solution in the frontier: sample E next steps from the policy
            (one step = the sampled text up to and including its first newline)
        a candidate whose new step is the answer line, or whose sample ended without a newline
            (``<eos>`` or the per-step token budget), is finished
        score every candidate's steps with the scorer; rank by the aggregated step scores
        finished candidates join the pool; the B best unfinished ones are the new frontier
    answer ← the best-scored finished candidate (ties: the first drawn); none finished: wrong

"Scaling LLM Test-Time Compute Optimally can be More Effective than Scaling Model Parameters"
(Snell et al. 2024, arXiv 2408.03314), section 5: beam search against a PRM, compared with
best-of-N at the same number of samples. Ranking reads only the candidates' text through the
scorer; the task's oracle is read only to report whether the chosen answer is right. The noise
of every sample is keyed by (seed, problem, round, beam, expansion).

Cut down: the sampler has no stop-at-newline, so each step is sampled up to ``step_tokens``
tokens (or ``<eos>``) and cut at its first newline; what follows the newline is discarded.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.model.sampler import SamplingConfig
from sandbox.prm.trajectory_score import TRAJECTORY_SCORES, trajectory_score
from sandbox.prm.mc_labels import CompletionRequest, PolicyCompleter
from sandbox.rng import row_key
from sandbox.rollout.rollouts import Rollouts
from toy_envs.base import check


@dataclass
class BeamSearchConfig:
    beam_width: int = 2
    """B: unfinished partial solutions kept per problem after each round."""
    expansions: int = 2
    """E: next steps sampled from each kept partial solution (N = B·E samples per round)."""
    max_steps: int = 16
    """Rounds at most (a partial solution still unfinished after them counts as wrong)."""
    step_tokens: int = 24
    """Most tokens sampled for one step before it is cut at its first newline."""
    temperature: float = 1.0
    """Sampling temperature of the steps."""
    aggregation: str = "last"
    """How a candidate's step scores rank it (``sandbox.prm.trajectory_score``): min, product, geo_mean, last."""
    seed: int = 0
    """Keys the sampling noise."""

    def validate(self) -> None:
        for name in ("beam_width", "expansions", "max_steps", "step_tokens"):
            check(getattr(self, name) >= 1, name, "an integer >= 1", getattr(self, name))
        check(self.temperature >= 0, "temperature", ">= 0", self.temperature)
        check(self.aggregation in TRAJECTORY_SCORES, "aggregation", f"one of {TRAJECTORY_SCORES}", self.aggregation)


@dataclass(frozen=True)
class Candidate:
    """A partial or finished solution of one problem."""

    text: str
    finished: bool
    score: float
    order: int
    """Draw order within its problem (ties break towards the first drawn)."""


def cut_step(prefix: str, sampled: str, task) -> tuple[str, bool]:
    """(prefix + the sampled step, finished?): the step ends at the first newline; the solution
    is finished when that step is the answer line or the sample had no newline."""
    cut = sampled.find("\n")
    if cut < 0:
        return prefix + sampled, True
    text = prefix + sampled[: cut + 1]
    steps = task.segment(text)
    return text, bool(steps) and steps[-1].kind == "answer"


def beam_search(policy, task, problems: list, score_fn, cfg: BeamSearchConfig) -> list[str]:
    """The chosen response of each problem (``""`` if nothing finished); ``score_fn(rollouts)``
    returns the step scores of each row, as for the toy ProcessBench."""
    cfg.validate()
    completer = PolicyCompleter(policy, task, SamplingConfig(max_new_tokens=cfg.step_tokens, temperature=cfg.temperature))
    frontier: list[list[str]] = [[""] for _ in problems]
    pool: list[list[Candidate]] = [[] for _ in problems]
    drawn = [0] * len(problems)
    for depth in range(cfg.max_steps):
        requests, owners = [], []
        for p, (problem, beams) in enumerate(zip(problems, frontier)):
            per_beam = cfg.expansions if depth else cfg.beam_width * cfg.expansions
            for j, prefix in enumerate(beams):
                for e in range(per_beam):
                    requests.append(CompletionRequest(problem, prefix, row_key(cfg.seed, "beam", problem.index, depth, j, e)))
                    owners.append(p)
        if not requests:
            break
        stepped = [cut_step(r.prefix, sampled, task) for r, sampled in zip(requests, completer(requests))]
        texts = [text for text, _ in stepped]
        rollouts = Rollouts.from_texts(task, [r.problem for r in requests], texts, truncated=[not done for _, done in stepped])
        scores = [trajectory_score(s, cfg.aggregation) for s in score_fn(rollouts)]
        fresh: list[list[Candidate]] = [[] for _ in problems]
        for p, (text, done), score in zip(owners, stepped, scores):
            candidate = Candidate(text, done, score, drawn[p])
            drawn[p] += 1
            (pool[p] if done else fresh[p]).append(candidate)
        frontier = [[c.text for c in sorted(f, key=rank)[: cfg.beam_width]] for f in fresh]
    return [min(finished, key=rank).text if finished else "" for finished in pool]


def rank(candidate: Candidate) -> tuple[float, int]:
    """Best first: the higher score, then the earlier draw."""
    return (-candidate.score, candidate.order)


def beam_search_accuracy(policy, task, problems: list, score_fn, cfg: BeamSearchConfig) -> float:
    """Fraction of ``problems`` whose chosen response the task's oracle marks correct."""
    chosen = beam_search(policy, task, problems, score_fn, cfg)
    return sum(task.score(problem, text).correct for problem, text in zip(problems, chosen)) / len(problems)
