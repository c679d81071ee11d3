"""Keyed randomness: every random number is a pure function of a key and a counter.

Sampling noise for a row is keyed by (seed, step, problem, rollout) — never by process, batch
position or thread — so a row's sample does not depend on which other rows share its batch,
on the number of processes, or on where a resumed run restarts.

``row_key(seed, *parts)`` hashes the parts to a 32-bit key (BLAKE2b, stable across runs and
platforms). ``keyed_uniform(keys, counter, n)`` is a counter-based generator: uniform
u[b, j] = fmix32(fmix32(key_b ⊕ fmix32(counter)) + j·φ) / 2^32 in (0, 1), where fmix32 is
MurmurHash3's 32-bit finaliser. All arithmetic stays below 2^63 in int64, so it is exact and
identical on CPU and GPU.
"""

from __future__ import annotations

import hashlib

import torch

_MASK32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9


def row_key(seed: int, *parts: int | str) -> int:
    """A stable 32-bit key for (seed, *parts), e.g. ``row_key(seed, step, problem, rollout)``."""
    text = "/".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=4).digest(), "little")


def row_keys(seed: int, rows: list[tuple[int | str, ...]]) -> torch.Tensor:
    """Keys for many rows at once, as an int64 tensor [len(rows)]."""
    return torch.tensor([row_key(seed, *parts) for parts in rows], dtype=torch.int64)


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """(x * c) mod 2^32 for 0 <= x < 2^32 without int64 overflow (16-bit limbs)."""
    lo = x * (c & 0xFFFF)
    hi = ((x * (c >> 16)) & 0xFFFF) << 16
    return (lo + hi) & _MASK32


def fmix32(x: torch.Tensor) -> torch.Tensor:
    x = x ^ (x >> 16)
    x = _mul32(x, 0x85EBCA6B)
    x = x ^ (x >> 13)
    x = _mul32(x, 0xC2B2AE35)
    return x ^ (x >> 16)


def keyed_uniform(keys: torch.Tensor, counter: int, n: int) -> torch.Tensor:
    """Uniforms in (0, 1), float64, [len(keys), n]; a pure function of (key, counter, column)."""
    c = fmix32(torch.tensor(counter & _MASK32, dtype=torch.int64, device=keys.device))
    base = fmix32((keys & _MASK32) ^ c)
    cols = _mul32(torch.arange(n, dtype=torch.int64, device=keys.device), _GOLDEN)
    bits = fmix32((base[:, None] + cols[None, :]) & _MASK32)
    return (bits.double() + 0.5) / 2.0**32
