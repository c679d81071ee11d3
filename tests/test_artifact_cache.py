"""The shared artifact cache: the key covers payload and sources, a build runs once, an
interrupted build is redone, and building never moves the caller's global RNG."""

import torch
from hypothesis import given
from hypothesis import strategies as st

from sandbox.train import artifact_cache
from sandbox.train.artifact_cache import artifact_path, build_once, source_digest


def fake_repo(tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "notes.txt").write_text("not code\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    monkeypatch.setattr(artifact_cache, "ROOT", tmp_path)
    monkeypatch.setenv("REWARD_SANDBOX_CACHE", str(tmp_path / "cache"))


def test_key_follows_payload_and_every_source_file(tmp_path, monkeypatch):
    fake_repo(tmp_path, monkeypatch)
    sources = ("pkg", "b.py")
    path = artifact_path("kind", "name", {"steps": 1}, sources)
    assert path.parent == tmp_path / "cache" / "kind" and path.name.startswith("name-")
    assert artifact_path("kind", "name", {"steps": 1}, sources) == path
    assert artifact_path("kind", "name", {"steps": 2}, sources) != path
    (tmp_path / "pkg" / "notes.txt").write_text("edited\n")  # not a .py file: same key
    assert artifact_path("kind", "name", {"steps": 1}, sources) == path
    for f in (tmp_path / "pkg" / "a.py", tmp_path / "b.py"):
        before = source_digest(sources)
        f.write_text(f.read_text() + "# edited\n")
        assert source_digest(sources) != before
    assert artifact_path("kind", "name", {"steps": 1}, sources) != path


@given(st.dictionaries(st.text(max_size=5), st.integers(-10, 10), max_size=4))
def test_key_ignores_payload_order(payload):
    reordered = dict(reversed(list(payload.items())))
    assert artifact_path("k", "n", payload, ()) == artifact_path("k", "n", reordered, ())


def test_build_once_builds_once_redoes_an_interrupted_build_and_keeps_the_rng(tmp_path, monkeypatch):
    fake_repo(tmp_path, monkeypatch)
    path = artifact_path("kind", "name", {}, ("b.py",))
    calls = []

    def build(out):
        calls.append(out)
        assert not out.exists()  # nothing left over from an interrupted build
        torch.rand(3)  # a build may use the global RNG ...
        (out / "part").mkdir(parents=True)
        (out / "done.json").write_text("{}")

    path.mkdir(parents=True)
    (path / "partial").write_text("an interrupted build")
    torch.manual_seed(0)
    expected = torch.rand(2)
    torch.manual_seed(0)
    assert build_once(path, build, done="done.json") == path
    assert torch.equal(torch.rand(2), expected)  # ... without moving the caller's
    assert build_once(path, build, done="done.json") == path
    assert calls == [path] and not (path / "partial").exists()


def test_the_cache_is_the_variable_else_the_checkouts_else_the_home_one(tmp_path, monkeypatch):
    checkout, installed, home = tmp_path / "clone", tmp_path / "site-packages", tmp_path / "home"
    for d in (checkout, installed, home):
        d.mkdir()
    (checkout / "pyproject.toml").write_text("[project]\nname = 'reward-sandbox'\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(artifact_cache, "ROOT", checkout)
    monkeypatch.setenv("REWARD_SANDBOX_CACHE", str(tmp_path / "elsewhere"))
    assert artifact_cache.cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("REWARD_SANDBOX_CACHE")
    assert artifact_cache.cache_dir() == checkout / ".cache"  # whatever the working directory
    monkeypatch.setattr(artifact_cache, "ROOT", installed)  # no pyproject.toml: an installed package
    assert artifact_cache.cache_dir() == home / ".cache" / "reward-sandbox"
    monkeypatch.setenv("REWARD_SANDBOX_CACHE", "")  # set but empty: as if unset
    assert artifact_cache.cache_dir() == home / ".cache" / "reward-sandbox"


def test_the_real_checkout_is_recognised():
    assert (artifact_cache.ROOT / "pyproject.toml").is_file() and (artifact_cache.ROOT / "sandbox" / "train").is_dir()
