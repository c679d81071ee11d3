"""Keyed randomness: every random number is a pure function of a key and a counter.

Sampling noise for a row is keyed by (seed, step, problem, rollout) — never by process, batch
position or thread — so a row's sample does not depend on which other rows share its batch,
on the number of processes, or on where a resumed run restarts.

``row_key(seed, *parts)`` hashes the parts to a 32-bit key (BLAKE2b, stable across runs and
platforms). ``keyed_uniform(keys, counter, n)`` is a counter-based generator: uniform
u[b, j] = fmix32(fmix32(key_b ⊕ fmix32(counter)) + j·φ) / 2^32 in (0, 1), where fmix32 is
MurmurHash3's 32-bit finaliser. All arithmetic stays below 2^63 in int64, so it is exact and
identical on CPU and GPU.

Batch order is keyed the same way: ``keyed_permutation(n, key)`` is ``torch.randperm`` from a
generator seeded with ``row_key(*key)``; ``keyed_minibatches`` cuts one such pass into minibatches
(PPO, the critic) and ``keyed_batches`` streams batches from keyed epochs (SFT of scorers and
judges).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import lru_cache

import torch

from toy_envs.base import check, is_int

_MASK32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9


def row_key(seed: int, *parts: int | str) -> int:
    """A stable 32-bit key for (seed, *parts), e.g. ``row_key(seed, step, problem, rollout)``."""
    text = "/".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=4).digest(), "little")


SAMPLE_STREAMS = {"pass@k": -1, "prm_data": -1, "processbench": -2, "best_of_n": -3}
"""Tag -> the ``step`` part of the sampling keys (seed, step, problem, rollout) of samples drawn
outside RL (RL steps are 0, 1, ...): held-out pass@k, PRM/judge training data, the toy
ProcessBench, best-of-N candidates. Each tag stands for the negative number its samples were
keyed with before tags existed: ``row_key`` would take the tag itself, but that re-keys every
sample, so every cached PRM recipe, every fingerprint and every published table would move.

pass@k and PRM data share -1, and stay so: a number of their own for either would redraw every
PRM's training data (so every PRM and judge recipe) or every pass@k curve. The sharing is
harmless. The key holds no split: PRM and judge training data are train-split problems and
pass@k eval-split ones, so one (seed, problem index) gives them the same noise for different
prompts -- different solutions, and neither is ever compared with or trained on the other. The
one eval-split use of the PRM stream, StepWiser's held-out chunk pool, draws the same solutions
as a pass@k curve of the same policy, seed and temperature would: both are measurements on
held-out problems, and no training or selection reads either."""


def sample_stream(tag: str) -> int:
    """The ``step`` that keys the samples of ``tag`` (``SAMPLE_STREAMS``)."""
    return SAMPLE_STREAMS[tag]


def row_keys(seed: int, rows: list[tuple[int | str, ...]]) -> torch.Tensor:
    """Keys for many rows at once, as an int64 tensor [len(rows)]."""
    return torch.tensor([row_key(seed, *parts) for parts in rows], dtype=torch.int64)


def _mul32(x, c: int):
    """(x * c) mod 2^32 for 0 <= x < 2^32 without int64 overflow (16-bit limbs); ``x`` an int64
    tensor or a Python int."""
    lo = x * (c & 0xFFFF)
    hi = ((x * (c >> 16)) & 0xFFFF) << 16
    return (lo + hi) & _MASK32


def fmix32(x):
    """MurmurHash3's 32-bit finaliser of an int64 tensor (elementwise) or a Python int, 0 <= x < 2^32."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x85EBCA6B)
    x = x ^ (x >> 13)
    x = _mul32(x, 0xC2B2AE35)
    return x ^ (x >> 16)


def keyed_uniform(keys: torch.Tensor, counter: int, n: int) -> torch.Tensor:
    """Uniforms in (0, 1), float64, [len(keys), n]; a pure function of (key, counter, column)."""
    return uniform_from_bases(fmix32((keys & _MASK32) ^ fmix32(counter & _MASK32)), n)


def counter_bases(keys: torch.Tensor, counters: int) -> torch.Tensor:
    """fmix32(key_b ⊕ fmix32(c)) for c = 0 .. counters − 1, int64 [len(keys), counters]: column c
    is what ``keyed_uniform(keys, c, n)`` hashes its n columns from (``uniform_from_bases``), so a
    loop over counters (the sampler's decode steps) hashes the keys once, not once per step."""
    hashed = torch.tensor([fmix32(c) for c in range(counters)], dtype=torch.int64, device=keys.device)
    return fmix32((keys[:, None] & _MASK32) ^ hashed[None, :])


def uniform_from_bases(bases: torch.Tensor, n: int) -> torch.Tensor:
    """The uniforms [len(bases), n] of one counter from its bases (``counter_bases``)."""
    bits = fmix32((bases[:, None] + _column_offsets(n, bases.device)[None, :]) & _MASK32)
    return (bits.double() + 0.5) / 2.0**32


@lru_cache(maxsize=64)
def _column_offsets(n: int, device: torch.device) -> torch.Tensor:
    """j·φ mod 2^32 for j = 0 .. n − 1 (read only: shared by every call with this n and device)."""
    return _mul32(torch.arange(n, dtype=torch.int64, device=device), _GOLDEN)


def keyed_permutation(n: int, key: tuple) -> torch.Tensor:
    """A permutation of 0..n−1 drawn by ``torch.randperm`` from a generator seeded with
    ``row_key(*key)``: a pure function of (n, key)."""
    check(is_int(n) and n >= 0, "n", "an integer >= 0 (rows to permute)", n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(row_key(*key)))


def keyed_minibatches(n_rows: int, minibatches: int, key: tuple) -> list[torch.Tensor]:
    """One keyed pass over ``n_rows`` rows (``keyed_permutation(n_rows, key)``) cut by
    ``torch.chunk`` into ``min(minibatches, n_rows)`` parts: chunks of ⌈n / k⌉ rows, the last
    one smaller, and fewer than k chunks where ⌈n / k⌉ · (k − 1) ≥ n; no chunks for no rows. The PPO epochs and the critic's epochs use it, with the
    (seed, tag, step, epoch) of the pass as ``key``."""
    check(is_int(minibatches) and minibatches >= 1, "minibatches", "an integer >= 1", minibatches)
    if n_rows == 0:
        return []
    return list(keyed_permutation(n_rows, key).chunk(min(minibatches, n_rows)))


def keyed_batches(n_rows: int, batch_size: int, key: tuple, span_epochs: bool = False) -> Iterator[list[tuple[int, int]]]:
    """Endless batches of ``(epoch, row)`` pairs: epoch e is ``keyed_permutation(n_rows, key + (e,))``,
    the epochs one after the other, each batch the next ``batch_size`` rows of that stream.

    With ``batch_size <= n_rows`` both settings give the same batches. With more rows asked
    than there are, ``span_epochs=False`` (the scorer and ThinkPRM judge SFT) returns the rest
    of the stream but at most one new epoch per batch, so a batch holds each row at most once
    when it starts on an epoch boundary; ``span_epochs=True`` (the StepWiser cold start) draws
    epochs until ``batch_size`` rows are there, so every batch is full and may repeat rows."""
    check(is_int(n_rows) and n_rows >= 1, "n_rows", "an integer >= 1 (rows to draw batches from)", n_rows)
    check(is_int(batch_size) and batch_size >= 1, "batch_size", "an integer >= 1", batch_size)
    stream: list[tuple[int, int]] = []
    epoch = 0
    while True:
        while len(stream) < (batch_size if span_epochs else min(batch_size, n_rows)):
            stream += [(epoch, row) for row in keyed_permutation(n_rows, (*key, epoch)).tolist()]
            epoch += 1
            if not span_epochs:
                break
        batch, stream = stream[:batch_size], stream[batch_size:]
        yield batch
