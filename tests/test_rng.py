import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.rng import counter_bases, fmix32, keyed_uniform, row_key, row_keys, uniform_from_bases


def fmix32_reference(x: int) -> int:
    """MurmurHash3 fmix32 with Python's unbounded ints (independent oracle)."""
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & 0xFFFFFFFF
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & 0xFFFFFFFF
    return x ^ (x >> 16)


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20))
def test_fmix32_matches_reference(values):
    got = fmix32(torch.tensor(values, dtype=torch.int64)).tolist()
    assert got == [fmix32_reference(v) for v in values]


@given(st.lists(st.integers(0, 2**32 - 1), max_size=20))
def test_fmix32_of_a_python_int_matches_reference(values):
    assert [fmix32(v) for v in values] == [fmix32_reference(v) for v in values]


@given(keys=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=6), counters=st.integers(1, 12), n=st.integers(1, 40))
def test_counter_bases_give_keyed_uniform_at_every_counter(keys, counters, n):
    """The sampler's path (the keys hashed for every step at once, then one counter's columns) is
    ``keyed_uniform`` exactly, and both are the module's formula computed with Python's integers
    (independent oracle): u[b, j] = (fmix32((fmix32(key_b ⊕ fmix32(c)) + j·φ) mod 2^32) + 1/2) / 2^32."""
    bases = counter_bases(torch.tensor(keys, dtype=torch.int64), counters)
    assert bases.shape == (len(keys), counters)
    for c in range(counters):
        oracle = [[(fmix32_reference((fmix32_reference(k ^ fmix32_reference(c)) + j * 0x9E3779B9) & 0xFFFFFFFF) + 0.5) / 2**32
                   for j in range(n)] for k in keys]
        assert uniform_from_bases(bases[:, c], n).tolist() == oracle
        assert keyed_uniform(torch.tensor(keys, dtype=torch.int64), c, n).tolist() == oracle


def test_row_key_is_stable_and_distinguishes_parts():
    assert row_key(0, 1, 2, 3) == row_key(0, 1, 2, 3)
    assert len({row_key(0, s, p, r) for s in range(4) for p in range(4) for r in range(4)}) == 64
    assert row_key(1, 1, 2, 3) != row_key(0, 1, 2, 3)


def test_uniforms_depend_only_on_key_and_counter():
    keys = row_keys(7, [(0, i, 0) for i in range(5)])
    full = keyed_uniform(keys, 3, 11)
    alone = keyed_uniform(keys[2:3], 3, 11)
    assert torch.equal(full[2:3], alone)
    assert not torch.equal(keyed_uniform(keys, 4, 11), full)
    assert ((full > 0) & (full < 1)).all()


def test_uniforms_look_uniform():
    u = keyed_uniform(row_keys(0, [(i,) for i in range(200)]), 0, 500).flatten()
    assert abs(u.mean().item() - 0.5) < 0.01
    assert abs(u.var().item() - 1 / 12) < 0.005
    hist = torch.histc(u.float(), bins=10, min=0, max=1)
    assert (hist / len(u) - 0.1).abs().max() < 0.01
