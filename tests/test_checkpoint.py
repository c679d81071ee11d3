import pytest
import torch

from sandbox.errors import DamagedFileError
from sandbox.model import checkpoint as ckpt
from sandbox.model.model import ModelConfig, TinyLlama


def tiny(tie=False):
    torch.manual_seed(0)
    return TinyLlama(ModelConfig(vocab_size=100, d_model=32, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=48, max_seq_len=32, tie_embeddings=tie))


@pytest.mark.parametrize("tie", [False, True])
def test_round_trip_model_optimizer_and_state(tmp_path, tie):
    model = tiny(tie)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, 100, (2, 8))
    model(x).sum().backward()
    opt.step()
    state = {"step": 3, "rng": [1, 2, 3], "note": "hello"}
    ckpt.save_checkpoint(tmp_path / "c", model, state, opt)

    model2 = tiny(tie)
    opt2 = torch.optim.AdamW(model2.parameters(), lr=1e-3)
    loaded, loaded_state = ckpt.load_checkpoint(tmp_path / "c", optimizer=opt2)
    assert loaded_state == state
    for (n, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), n
    opt2_state = opt2.state_dict()
    for i, entries in opt.state_dict()["state"].items():
        for key, value in entries.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(opt2_state["state"][i][key])), (i, key)
    assert opt2_state["param_groups"] == opt.state_dict()["param_groups"]


def test_never_overwrites(tmp_path):
    ckpt.save_checkpoint(tmp_path / "c", tiny())
    with pytest.raises(FileExistsError):
        ckpt.save_checkpoint(tmp_path / "c", tiny())


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt, "save_file", boom)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(tmp_path / "c", tiny())
    assert list(tmp_path.iterdir()) == []


def test_loading_a_non_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(DamagedFileError, match="state.json is missing"):
        ckpt.load_checkpoint(tmp_path)
