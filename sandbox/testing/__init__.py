"""Tools for testing reward pieces, yours included: hypothesis strategies, fake rollouts, and
ready invariant checks to call from your own pytest.

    from sandbox.testing import check_advantage_estimator, check_filter, check_reward_source

    def test_my_estimator():
        check_advantage_estimator(my_estimator, kind="outcome_group")
        check_advantage_estimator(my_rloo, kind="rloo")     # a standard estimator: + the kit's reference
        check_advantage_estimator(from_trl(trl_style_fn, num_generations=4))   # adapters: see ``adapters``

    def test_my_filter():
        check_filter(my_filter, kind="variance", metric="reward")

    def test_my_reward():
        check_reward_source(my_reward, placement="last", bounds=(0, 1))

Each check runs a hypothesis property over bounded random inputs and raises ``InvariantError``
(an ``AssertionError``) naming the violated invariant, with the shrunk counterexample. Call the
checks from a plain test function (hypothesis does not nest one ``@given`` inside another). Which
invariants apply to which kind of piece is documented in ``estimator_checks``,
``filter_checks`` and ``source_checks``; the reference implementations of the standard
estimators in ``references``; the strategies in ``strategies`` and ``trees``.
"""

from sandbox.testing.adapters import from_trl, from_verl
from sandbox.testing.estimator_checks import check_advantage_estimator
from sandbox.testing.filter_checks import check_filter
from sandbox.testing.invariants import InvariantError
from sandbox.testing.source_checks import check_reward_source

__all__ = ["InvariantError", "check_advantage_estimator", "check_filter", "check_reward_source", "from_trl", "from_verl"]
