"""Effective rank: its defining properties, a naive oracle, the paper's per-response ER and ERV/ERA."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.rollout.effective_rank import (
    differences,
    effective_rank,
    prefix_lengths,
    rank_dynamics,
    response_effective_ranks,
    velocity_acceleration,
)

shapes = st.tuples(st.integers(1, 7), st.integers(1, 7))
seeds = st.integers(0, 2**31 - 1)


def gaussian(seed: int, *shape) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape))


def orthogonal(seed: int, n: int) -> torch.Tensor:
    q, r = torch.linalg.qr(gaussian(seed, n, n))
    return q * torch.sign(torch.diagonal(r))


def oracle(matrix: np.ndarray) -> float:
    """Naive: singular values as square roots of the eigenvalues of the smaller Gram matrix, entropy in a loop."""
    gram = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
    sigmas = [math.sqrt(max(float(e), 0.0)) for e in np.linalg.eigvalsh(gram)]
    total = sum(sigmas)
    if total == 0:
        return 0.0
    return math.exp(-sum(s / total * math.log(s / total) for s in sigmas if s > 0))


@given(shapes, seeds)
def test_matches_the_naive_oracle(shape, seed):
    h = gaussian(seed, *shape)
    assert effective_rank(h) == pytest.approx(oracle(h.numpy()), rel=1e-6, abs=1e-6)


@given(shapes, seeds)
def test_orthonormal_rows_or_columns_give_the_full_rank(shape, seed):
    n, d = shape
    q = orthogonal(seed, max(n, d))[:n, :d]  # orthonormal rows (n <= d) or columns (n > d): min(n, d) equal singular values
    assert effective_rank(q) == pytest.approx(min(n, d), rel=1e-9)
    assert effective_rank(3.5 * q) == pytest.approx(min(n, d), rel=1e-9)


@given(shapes, seeds)
def test_rank_one_gives_one(shape, seed):
    n, d = shape
    u, v = gaussian(seed, n, 1), gaussian(seed + 1, 1, d)
    assert effective_rank(u @ v) == pytest.approx(1.0, abs=1e-6)


@given(shapes, seeds, st.floats(1e-3, 1e3))
def test_between_one_and_the_smaller_side_and_scale_invariant(shape, seed, c):
    h = gaussian(seed, *shape)
    value = effective_rank(h)
    assert 1 - 1e-9 <= value <= min(shape) + 1e-9
    assert effective_rank(c * h) == pytest.approx(value, rel=1e-9)


@given(shapes, seeds)
def test_invariant_to_rotations_of_the_hidden_dimension_and_row_order(shape, seed):
    n, d = shape
    h = gaussian(seed, n, d)
    value = effective_rank(h)
    assert effective_rank(h @ orthogonal(seed + 1, d)) == pytest.approx(value, rel=1e-9)
    assert effective_rank(h[torch.from_numpy(np.random.default_rng(seed).permutation(n))]) == pytest.approx(value, rel=1e-9)


def test_zero_matrix_has_effective_rank_zero_and_bad_shapes_are_refused():
    assert effective_rank(torch.zeros(3, 4)) == 0.0
    with pytest.raises(ValueError, match="matrix"):
        effective_rank(torch.zeros(3))


@given(st.lists(st.integers(0, 6), min_size=1, max_size=4), st.integers(1, 5), seeds)
def test_response_ranks_centre_each_row_and_ignore_padding(lengths, d, seed):
    width = max(lengths) + 2
    hidden = gaussian(seed, len(lengths), width, d) * 5  # padding holds large junk: it must not matter
    mask = torch.zeros(len(lengths), width, dtype=torch.bool)
    for b, n in enumerate(lengths):
        mask[b, 1:1 + n] = True
    got = response_effective_ranks(hidden.float(), mask)
    for b, n in enumerate(lengths):
        rows = hidden[b, 1:1 + n].float().double().numpy()
        expected = oracle(rows - rows.mean(0, keepdims=True)) if n else 0.0
        assert got[b].item() == pytest.approx(expected, rel=1e-6, abs=1e-6)


@given(st.floats(-5, 5), st.floats(-5, 5), st.integers(0, 8))
def test_differences_of_a_linear_series_are_constant_then_zero(a, b, n):
    d1, d2 = differences([a + b * i for i in range(n)])
    assert len(d1) == max(n - 1, 0) and len(d2) == max(n - 2, 0)
    assert all(x == pytest.approx(b, abs=1e-9) for x in d1)
    assert all(x == pytest.approx(0.0, abs=1e-9) for x in d2)


@given(st.floats(-5, 5), st.floats(-5, 5), st.integers(3, 10))
def test_velocity_and_acceleration_of_a_linear_series(a, b, n):
    series = [a + b * t for t in range(1, n + 1)]
    velocity, acceleration = velocity_acceleration(series)
    assert acceleration == pytest.approx(b / 2, abs=1e-9)
    assert velocity == pytest.approx(sum(b * t / 2 for t in range(2, n + 1)) / (n - 1), abs=1e-9)
    assert velocity_acceleration([a] * n) == pytest.approx((0.0, 0.0), abs=1e-12)
    assert velocity_acceleration([a]) == (0.0, 0.0)


def test_prefix_lengths():
    assert prefix_lengths(7, 3) == [3, 6, 7]
    assert prefix_lengths(6, 3) == [3, 6]
    assert prefix_lengths(1, 1) == []
    assert prefix_lengths(5, 1) == [2, 3, 4, 5]
    with pytest.raises(ValueError, match="stride"):
        prefix_lengths(5, 0)


@given(st.lists(st.integers(0, 7), min_size=1, max_size=3), st.integers(1, 3), seeds)
def test_rank_dynamics_match_a_per_row_loop(lengths, stride, seed):
    width, d = max(lengths) + 1, 3
    hidden = gaussian(seed, len(lengths), width, d)
    mask = torch.zeros(len(lengths), width, dtype=torch.bool)
    for b, n in enumerate(lengths):
        mask[b, 1:1 + n] = True
    velocity, acceleration = rank_dynamics(hidden, mask, stride)
    for b, n in enumerate(lengths):
        series = []
        for k in prefix_lengths(n, stride):
            rows = hidden[b, 1:1 + k].numpy()
            series.append(oracle(rows - rows.mean(0, keepdims=True)))
        v, a = velocity_acceleration(series)
        assert (velocity[b].item(), acceleration[b].item()) == pytest.approx((v, a), abs=1e-6)
