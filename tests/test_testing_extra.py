"""The property-testing kit runs on what the light ``[testing]`` extra installs.

In a fresh interpreter every distribution that ``pyproject.toml`` lists outside that extra (the
base dependencies it leaves out -- matplotlib, tensorboard, safetensors, einops, filelock, tqdm --
and every other extra: transformers, trl, reasoning-gym, jupyterlab, ...) is made unimportable;
``sandbox.testing`` is then imported and checks a TRL-style estimator through ``from_trl``, a
verl-style one through ``from_verl``, a filter and a reward source, each written there as a user
would. None of the blocked modules is in ``sys.modules`` afterwards. The extra can only add
packages: installed from a checkout with pip, the package still pulls its base dependencies
(the property-testing guide says how to install the kit without them).

About 11 s of CPU (a fresh interpreter importing torch and hypothesis, 10 examples per check),
hence ``slow``; ``test_the_guide_installs_the_extras_list`` is instant.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULE_OF = {"pytest-xdist": "xdist", "reasoning-gym": "reasoning_gym"}
"""Import names that differ from the distribution's name."""


def names(requirements: list[str]) -> set[str]:
    """Distribution names of requirement strings, without versions or this project's own extras."""
    found = {re.match(r"[A-Za-z0-9_.\-]+", r).group(0).lower() for r in requirements}
    return found - {"reward-sandbox"}


def extra_and_the_rest() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    testing = names(extras["testing"])
    everything = names(project["dependencies"]).union(*(names(reqs) for reqs in extras.values()))
    return testing, everything - testing


SCRIPT = """
import importlib.abc, sys

BLOCKED = {blocked!r}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{{name}} is not installed by the [testing] extra", name=name)
        return None

sys.meta_path.insert(0, Block())

import torch
from sandbox.rewards.base import FilterResult, on_last_token
from sandbox.testing import check_advantage_estimator, check_filter, check_reward_source, from_trl, from_verl

def trl_grpo(rewards, num_generations):
    grouped = rewards.view(-1, num_generations)
    mean = grouped.mean(dim=1).repeat_interleave(num_generations)
    std = grouped.std(dim=1).repeat_interleave(num_generations)
    return (rewards - mean) / (std + 1e-4)

def verl_grpo(token_level_rewards, response_mask, index, epsilon=1e-6):
    scores = token_level_rewards.sum(-1)
    out = torch.zeros_like(scores)
    for key in set(index.tolist()):
        rows = index == key
        mean, std = (scores[rows].mean(), scores[rows].std()) if int(rows.sum()) > 1 else (0.0, 1.0)
        out[rows] = (scores[rows] - mean) / (std + epsilon)
    advantages = out.unsqueeze(-1) * response_mask
    return advantages, advantages

def varies(rollouts, token_rewards, ctx):
    totals = (token_rewards.double() * rollouts.response_mask).sum(-1)
    keep = torch.zeros(len(rollouts), dtype=torch.bool)
    for key in rollouts.group.unique():
        rows = rollouts.group == key
        keep[rows] = bool(totals[rows].max() > totals[rows].min())
    return FilterResult(keep)

def correct(rollouts, ctx):
    return on_last_token(rollouts, rollouts.correct.float())

check_advantage_estimator(from_trl(trl_grpo, num_generations=3), kind="grpo", reference_options={{"eps": 1e-4}},
                          max_examples=10)
check_advantage_estimator(from_verl(verl_grpo), kind="grpo", max_examples=10)
check_filter(varies, kind="variance", metric="reward", max_examples=10)
check_reward_source(correct, placement="last", bounds=(0, 1), max_examples=10)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
assert not loaded, loaded
print("kit ok")
"""


def test_the_extra_lists_what_the_kit_imports_and_no_heavy_package():
    testing, _ = extra_and_the_rest()
    assert {"torch", "numpy", "hypothesis", "networkx"} <= testing
    assert not testing & {"matplotlib", "tensorboard", "transformers", "trl", "tqdm", "jupyterlab"}


def test_the_guide_installs_the_extras_list():
    """The property-testing guide's install line without the base dependencies is the extra's list."""
    guide = (ROOT / "tutorials" / "guides" / "property_testing.md").read_text()
    (line,) = [line for line in guide.splitlines() if line.startswith('pip install "torch')]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(re.findall(r'"([^"]+)"', line)) == sorted(project["optional-dependencies"]["testing"])
    assert "pip install --no-deps -e ." in guide


@pytest.mark.slow
def test_the_kit_checks_third_party_code_with_only_the_testing_extra():
    _, rest = extra_and_the_rest()
    blocked = sorted(MODULE_OF.get(name, name.replace("-", "_")) for name in rest)
    assert {"matplotlib", "tensorboard", "transformers", "tqdm", "safetensors", "filelock"} <= set(blocked)
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT.format(blocked=set(blocked)))],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and run.stdout.strip().endswith("kit ok"), run.stderr[-3000:]
