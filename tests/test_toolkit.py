"""The training toolkit against naive oracles: the schedule against its formula written out,
padding against a loop, keyed batches against the epoch-refill loop the trainers used, the
optimizer step against hand-written backward / clip / step."""

import copy
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.errors import NonFiniteError
from sandbox.rng import row_key
from sandbox.train import accel
from sandbox.train.toolkit import (
    evaluating, keyed_batches, keyed_minibatches, keyed_permutation, learning_rate, optimizer_step, pad_rows,
    set_learning_rate,
)
from toy_envs.base import ConfigError

# ---- schedule -----------------------------------------------------------------------------------


def cosine_oracle(step, peak, warmup, total, ratio):
    """Warm-up peak·(s+1)/W, then cosine to peak·ratio at ``total`` (written out independently)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    low = peak * ratio
    return low + (peak - low) * (1 + math.cos(math.pi * t)) / 2


@given(step=st.integers(0, 300), warmup=st.integers(0, 50), total=st.integers(1, 300),
       ratio=st.floats(0, 1), peak=st.floats(1e-6, 1.0))
def test_cosine_schedule_matches_its_formula(step, warmup, total, ratio, peak):
    got = learning_rate(step, peak, warmup, total, ratio, warmup="product")
    assert got == pytest.approx(cosine_oracle(step, peak, warmup, total, ratio), rel=1e-12, abs=1e-18)
    assert 0 <= got <= peak * (1 + 1e-12)
    if step >= warmup + max(1, total - warmup):  # the decay is over
        assert got == pytest.approx(peak * ratio, rel=1e-12, abs=1e-18)


@given(step=st.integers(0, 300), warmup=st.integers(0, 50), peak=st.floats(1e-6, 1.0))
def test_constant_schedule_is_the_rl_formula_bit_for_bit(step, warmup, peak):
    rl = peak * min(1.0, (step + 1) / warmup) if warmup else peak
    assert learning_rate(step, peak, warmup) == rl
    # the cosine branch at floor ratio 1 is the constant exactly (what SFT configs with min_lr_ratio 1 rely on)
    assert learning_rate(step, peak, warmup, 10, 1.0, warmup="fraction") == rl


@given(step=st.integers(0, 300), warmup=st.integers(0, 50), total=st.integers(1, 300),
       ratio=st.floats(0, 1), peak=st.floats(1e-6, 1.0))
def test_product_warmup_is_the_sft_formula_bit_for_bit(step, warmup, total, ratio, peak):
    if step < warmup:
        expected = peak * (step + 1) / warmup
    else:
        progress = (step - warmup) / max(1, total - warmup)
        floor = peak * ratio
        expected = floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    assert learning_rate(step, peak, warmup, total, ratio, warmup="product") == expected


def test_the_two_warmup_forms_differ_only_in_rounding():
    pairs = [[learning_rate(s, 3e-5, 7, warmup=w) for w in ("product", "fraction")] for s in range(7)]
    differ = 0
    for a, b in pairs:
        assert a == pytest.approx(b, rel=1e-15)
        differ += a != b
    assert differ >= 1  # why the form is a parameter: 3e-5·3/7 != 3e-5·(3/7) in float64


@pytest.mark.parametrize("kwargs, field", [
    (dict(step=-1, peak=1.0), "step"), (dict(step=0, peak=1.0, warmup_steps=-1), "warmup_steps"),
    (dict(step=0, peak=1.0, floor_ratio=1.5), "floor_ratio"), (dict(step=0, peak=1.0, warmup="linear"), "warmup"),
])
def test_schedule_refuses_bad_input_naming_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        learning_rate(**kwargs)


def test_set_learning_rate_sets_every_group():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.AdamW([{"params": [a], "lr": 1.0}, {"params": [b], "lr": 2.0}])
    set_learning_rate(opt, 0.25)
    assert [g["lr"] for g in opt.param_groups] == [0.25, 0.25]


# ---- padding ------------------------------------------------------------------------------------

rows_strategy = st.lists(st.lists(st.integers(0, 90), max_size=12), min_size=1, max_size=8)


@given(rows=rows_strategy, fill=st.integers(-1, 5), extra=st.integers(0, 3))
def test_pad_rows_matches_a_loop(rows, fill, extra):
    width = max(len(r) for r in rows) + extra
    out = pad_rows(rows, fill, width=width)
    assert out.shape == (len(rows), width) and out.dtype == torch.long
    for b, row in enumerate(rows):
        for t in range(width):
            assert out[b, t].item() == (row[t] if t < len(row) else fill)
    assert pad_rows(rows, fill).shape[1] == max(len(r) for r in rows)


@given(rows=st.lists(st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=9), min_size=1, max_size=6),
       dtype=st.sampled_from([torch.float32, torch.float64, torch.long]))
def test_pad_rows_of_lists_equals_pad_rows_of_tensors(rows, dtype):
    """Rows given as lists take one conversion for the batch, rows given as tensors one copy each:
    the same values, float32 rounding and integer truncation included."""
    as_tensors = [torch.tensor(row, dtype=torch.float64) for row in rows]
    assert torch.equal(pad_rows(rows, 0, dtype), pad_rows(as_tensors, 0, dtype))


def test_pad_rows_keeps_dtype_and_refuses_a_narrow_width():
    mask = pad_rows([[False, True], [True]], False, torch.bool)
    assert mask.tolist() == [[False, True], [True, False]]
    logp = pad_rows([[-0.5, -1.25], []], 0.0, torch.float32)
    assert logp.dtype == torch.float32 and logp.tolist() == [[-0.5, -1.25], [0.0, 0.0]]
    assert pad_rows([], 0).shape == (0, 0)
    with pytest.raises(ConfigError, match="width"):
        pad_rows([[1, 2, 3]], 0, width=2)


# ---- evaluating ---------------------------------------------------------------------------------


@pytest.mark.parametrize("start", [True, False])
def test_evaluating_restores_the_mode_also_after_an_error(start):
    module = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    module.train(start)
    with evaluating(module) as inside:
        assert inside is module and not module.training and not module[1].training
    assert module.training == start and module[1].training == start
    with pytest.raises(RuntimeError), evaluating(module):
        raise RuntimeError("boom")
    assert module.training == start


# ---- keyed batch order --------------------------------------------------------------------------


def refill_loop(n_rows, batch_size, key, steps):
    """The loop the scorer / judge trainers had: one refill when short of min(batch, n)."""
    out, epoch, order = [], 0, torch.empty(0, dtype=torch.long)
    for _ in range(steps):
        if len(order) < min(batch_size, n_rows):
            gen = torch.Generator().manual_seed(row_key(*key, epoch))
            order, epoch = torch.cat([order, torch.randperm(n_rows, generator=gen)]), epoch + 1
        out.append(order[:batch_size].tolist())
        order = order[batch_size:]
    return out


def filling_loop(n_rows, batch_size, key, steps):
    """The StepWiser cold start's loop: refill until a whole batch is there."""
    out, order, epoch = [], [], 0
    for _ in range(steps):
        while len(order) < batch_size:
            gen = torch.Generator().manual_seed(row_key(*key, epoch))
            order += [(epoch, i) for i in torch.randperm(n_rows, generator=gen).tolist()]
            epoch += 1
        out.append(order[:batch_size])
        order = order[batch_size:]
    return out


@given(n=st.integers(1, 20), batch=st.integers(1, 30), seed=st.integers(0, 5))
def test_keyed_batches_match_both_refill_loops(n, batch, seed):
    key = (seed, "tag")
    batches = keyed_batches(n, batch, key)
    got = [[row for _, row in next(batches)] for _ in range(12)]
    assert got == refill_loop(n, batch, key, 12)
    spanning = keyed_batches(n, batch, key, span_epochs=True)
    assert [next(spanning) for _ in range(12)] == filling_loop(n, batch, key, 12)
    if batch <= n:
        assert got == [[row for _, row in b] for b in filling_loop(n, batch, key, 12)]


@given(n=st.integers(1, 20), batch=st.integers(1, 20))
def test_every_epoch_of_keyed_batches_is_a_permutation(n, batch):
    seen: dict[int, list[int]] = {}
    stream = keyed_batches(n, batch, (0, "perm"), span_epochs=True)
    for _ in range(3 * n):
        for epoch, row in next(stream):
            seen.setdefault(epoch, []).append(row)
    for epoch, rows in seen.items():
        if epoch < max(seen):  # the last epoch may be partly drawn
            assert sorted(rows) == list(range(n))


@given(n=st.integers(0, 40), k=st.integers(1, 9), step=st.integers(0, 3))
def test_keyed_minibatches_partition_the_rows_like_the_ppo_loop(n, k, step):
    key = (1, "minibatch", step, 0)
    parts = keyed_minibatches(n, k, key)
    if n == 0:
        assert parts == []
        return
    gen = torch.Generator().manual_seed(row_key(*key))
    expected = torch.randperm(n, generator=gen).chunk(min(k, n))
    assert len(parts) == len(expected) and all(torch.equal(a, b) for a, b in zip(parts, expected))
    assert sorted(torch.cat(parts).tolist()) == list(range(n))
    assert torch.equal(torch.cat(parts), keyed_permutation(n, key))


def test_keyed_order_refuses_bad_sizes():
    with pytest.raises(ConfigError, match="batch_size"):
        next(keyed_batches(3, 0, (0,)))
    with pytest.raises(ConfigError, match="n_rows"):
        next(keyed_batches(0, 2, (0,)))
    with pytest.raises(ConfigError, match="minibatches"):
        keyed_minibatches(3, 0, (0,))


# ---- optimizer step -----------------------------------------------------------------------------


def small_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def loss_of(model, scale=1.0):
    x = torch.linspace(-1, 1, 12).view(3, 4)
    return model(x).pow(2).mean() * scale


@pytest.mark.parametrize("max_norm, scale", [(1.0, 1.0), (1e-3, 50.0), (10.0, 3.0)])
def test_optimizer_step_is_the_hand_written_loop(max_norm, scale):
    a, b, c = small_model(), small_model(), small_model()
    opt_a = torch.optim.AdamW(a.parameters(), lr=1e-2, betas=(0.9, 0.98))
    opt_b = torch.optim.AdamW(b.parameters(), lr=1e-2, betas=(0.9, 0.98))
    opt_c = torch.optim.AdamW(c.parameters(), lr=1e-2, betas=(0.9, 0.98))
    scaler = accel.grad_scaler(torch.device("cpu"), "fp32")  # disabled: a pass-through
    for _ in range(3):
        opt_a.zero_grad(set_to_none=True)
        loss = loss_of(a, scale)
        loss.backward()
        expected = float(torch.nn.utils.clip_grad_norm_(a.parameters(), max_norm))
        opt_a.step()
        assert optimizer_step(opt_b, loss_of(b, scale), b.parameters(), max_norm, where="test") == expected
        optimizer_step(opt_c, loss_of(c, scale), c.parameters(), max_norm, scaler)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb) and torch.equal(pa, pc)


def test_optimizer_step_runs_the_gradient_sync_before_the_clip():
    model = small_model()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    before = copy.deepcopy(model)

    def double():
        for p in model.parameters():
            p.grad.mul_(2.0)

    norm = optimizer_step(opt, loss_of(model), model.parameters(), 1e9, sync_gradients=double)
    ref = copy.deepcopy(before)
    loss_of(ref).backward()
    plain = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in ref.parameters()))
    assert norm == pytest.approx(2 * plain, rel=1e-6)
    for p, q in zip(model.parameters(), ref.parameters()):
        assert torch.allclose(p, q.detach() - 2 * q.grad, atol=1e-6)


def test_optimizer_step_without_a_loss_steps_on_no_gradient_and_names_a_nan():
    model = small_model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    start = [p.detach().clone() for p in model.parameters()]
    assert optimizer_step(opt, None, model.parameters(), 1.0) == 0.0
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), start))
    with pytest.raises(NonFiniteError, match="sft step 3: the gradient norm"):
        optimizer_step(opt, loss_of(model) * float("nan"), model.parameters(), 1.0, where="sft step 3")
    with pytest.raises(ConfigError, match="max_norm"):
        optimizer_step(opt, loss_of(model), model.parameters(), 0.0)
