"""What a run has spent so far: cumulative cost metrics under fixed names, logged every step.

    cost/generated_tokens       Σ tokens the policy decoded for training batches (every draw: refills
                                included; a tree sampler counts its shared prefixes once)
    cost/trained_tokens         Σ ppo_epochs · (prompt + response tokens of the kept rows): the tokens
                                the policy's forward and backward passes of the update ran on
    cost/policy_collect_tokens  Σ tokens the policy's forward passes processed while collecting a
                                batch: the prompts' prefill, each decoding step, and any scoring pass
                                a reward piece or problem filter makes with the policy (DRO's R3 and
                                query-filter screening when scored by the policy)
    cost/aux_forward_tokens     Σ tokens every other model's forward passes processed during the
                                steps: the reference (KL penalty, reference-scored rewards), a PRM or
                                judge the variant scores with (a judge's sampled chains included),
                                the auxiliary models (a critic, PRIME's implicit PRM and its reference)
    cost/train_flops            6 · N · trained + 2 · N · policy_collect + Σ_m 2 · N_m · tokens_m

with N the policy's parameter count and N_m that of each other model m (embeddings included). The
token counts are of the tensors handed to each model's forward (padding included: what was
computed), read by forward pre-hooks on the models' top modules (``CostMeter.watching``), so no
reward piece reports anything. The FLOPs are the usual dense-transformer estimate (Kaplan et al.
2020, arXiv 2001.08361: about 2N per token forward, 6N forward and backward) without attention's
sequence-length term; the other models' own backward passes (a critic's or implicit PRM's update)
are not counted. Nothing in the run reads these metrics, except that
``RLConfig.max_generated_tokens`` stops a run on ``cost/generated_tokens``.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager

import torch

COST_KEYS = ("generated_tokens", "trained_tokens", "policy_collect_tokens", "aux_forward_tokens", "aux_forward_flops")
WATCHED = ("policy_collect_tokens", "aux_forward_tokens", "aux_forward_flops")
"""The totals read by forward hooks: counted per process (``pending``) until ``add`` takes their sum over processes."""


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def forward_tokens(args: tuple, kwargs: dict) -> int:
    """Tokens handed to a forward call: the first tensor argument's elements ([B, T] ids)."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            return value.numel()
    return 0


class CostMeter:
    """The cumulative counts of one run (restored with the checkpoint's state on resume)."""

    def __init__(self, parameters: int, ppo_epochs: int):
        self.parameters = parameters
        self.ppo_epochs = ppo_epochs
        self.totals = dict.fromkeys(COST_KEYS, 0)
        self.pending = dict.fromkeys(WATCHED, 0)
        """This process's hook counts since the last ``add``."""

    @contextmanager
    def watching(self, modules, key: str):
        """Within the block, count the tokens of every forward call of ``modules`` (each counted
        once however often listed) into ``key``; for ``aux_forward_tokens`` also their FLOPs."""
        seen, handles = set(), []
        for module in modules:
            if module is None or id(module) in seen:
                continue
            seen.add(id(module))
            flops_per_token = 2 * parameter_count(module)

            def hook(_, args, kwargs, flops_per_token=flops_per_token):
                tokens = forward_tokens(args, kwargs)
                self.pending[key] += tokens
                if key == "aux_forward_tokens":
                    self.pending["aux_forward_flops"] += flops_per_token * tokens

            handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))
        with ExitStack() as stack:
            for handle in handles:
                stack.callback(handle.remove)
            yield

    def take_pending(self) -> list[int]:
        """This process's hook counts since the last step, in ``WATCHED`` order, reset to 0."""
        values = [self.pending[k] for k in WATCHED]
        self.pending = dict.fromkeys(WATCHED, 0)
        return values

    def add(self, generated_tokens: int, kept_tokens: int, watched: list) -> dict:
        """Count one step: its decoded tokens, the prompt + response tokens of its kept rows and the
        hook counts (``take_pending``), each summed over every process; returns the ``cost/*``
        metrics after it."""
        self.totals["generated_tokens"] += int(generated_tokens)
        self.totals["trained_tokens"] += self.ppo_epochs * int(kept_tokens)
        for key, value in zip(WATCHED, watched):
            self.totals[key] += int(value)
        return self.metrics()

    def metrics(self) -> dict:
        t, n = self.totals, self.parameters
        flops = 6 * n * t["trained_tokens"] + 2 * n * t["policy_collect_tokens"] + t["aux_forward_flops"]
        return {**{f"cost/{k}": v for k, v in t.items() if k != "aux_forward_flops"}, "cost/train_flops": float(flops)}

    def state(self) -> dict:
        return {"cost": dict(self.totals)}

    def load_state(self, state: dict) -> None:
        """Restore the totals; a checkpoint written before these metrics existed restarts them at 0."""
        self.totals = {k: int(state.get("cost", {}).get(k, 0)) for k in COST_KEYS}
