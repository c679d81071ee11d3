"""The verdict probability against P(yes) / (P(yes) + P(no)) computed from the full softmax in float64."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.prm.verdict import FORMS, verdict_probability
from toy_envs.base import ConfigError


@given(seed=st.integers(0, 1000), scale=st.floats(0.1, 20.0), shift=st.floats(-50, 50))
def test_both_forms_are_the_two_token_share_of_the_softmax(seed, scale, shift):
    logits = torch.randn(6, 5, 9, generator=torch.Generator().manual_seed(seed)) * scale
    p = logits.double().softmax(-1)
    oracle = p[..., 3] / (p[..., 3] + p[..., 7])
    for form in FORMS:
        got = verdict_probability(logits, 3, 7, form)
        assert got.shape == (6, 5) and got.dtype == torch.float32
        assert torch.allclose(got.double(), oracle, atol=1e-6)
        # a constant added to every logit changes nothing (up to float32 rounding)
        assert torch.allclose(verdict_probability(logits + shift, 3, 7, form), got, atol=1e-5)
        assert torch.allclose(got + verdict_probability(logits, 7, 3, form), torch.ones(6, 5), atol=1e-6)


def test_unknown_form_is_refused():
    with pytest.raises(ConfigError, match="form"):
        verdict_probability(torch.zeros(2, 4), 0, 1, "ratio")
