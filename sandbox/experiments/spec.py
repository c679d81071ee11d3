"""An experiment as a spec file: a grid of ordinary RL runs, checked whole before any compute.

    runs = settings (rl.base, each of rl.settings, each combination of rl.grid) x variants x seeds
    run  = RLConfig(base ∪ setting ∪ variant.rl ∪ evaluation, steps = budget.steps,
                    max_generated_tokens = budget.generated_tokens, variant = label, seed)

A spec is TOML (``tomllib``), checked into ``sandbox/experiments/specs/``::

    name = "dro-weights"                 # required
    description = "σ vs uniform R3 weights"
    init = "tiny-long-answer"            # warm start: a preset or a checkpoint directory
    seeds = [0, 1, 2]
    baseline = "dro"                     # label the report's paired differences are taken against

    [task]                               # optional: the task (``name``, default the warm start's)
    n_steps_mix = "4:1"                  # and fields over the warm start's task fields

    [budget]
    steps = 40                           # RL steps (the most steps with generated_tokens)
    generated_tokens = 0                 # > 0: a run stops after the first step whose cumulative
                                         # generated tokens reach this (equal-compute comparisons)
    [rl.base]                            # RLConfig fields shared by every run
    lr = 1e-5
    [rl.grid]                            # RLConfig fields crossed (each a list)
    problems_per_step = [16, 32]
    [[rl.settings]]                      # optional: settings listed one by one (crossed with the grid)
    lr = 3e-5
    [[rl.settings]]
    adam_eps = 1e-8

    [evaluation]
    metrics = ["eval/accuracy", "eval/process_accuracy"]   # what the report tabulates
    targets = { "eval/accuracy" = 0.6 }  # the report: steps, tokens, FLOPs, seconds to reach each
    eval_problems = 1024                 # RLConfig's evaluation fields
    eval_every = 10

    [final]                              # optional: after training, the last checkpoint and the warm
    lengths = [2, 3, 4, 5, 6]            # start evaluated again, greedy, at each chain length (tree
    problems = 256                       # depth), and the hackable rubric's hack rate on the task's
                                         # own problems (``sandbox.experiments.final_eval``)

    [[variants]]
    variant = "dro"                      # a registered variant, or the control "sft"
    [[variants]]
    variant = "dro"
    label = "dro-uniform-w"              # the run directory's name (required with overrides)
    params = { dro_r3 = { weighting = "uniform" } }   # piece -> {param: value}; "loss" -> loss overrides
    rl = { reference_sync_every = 4 }    # RLConfig fields of this variant only
    [[variants]]
    variant = "outcome-grpo"
    label = "dro-then-outcome"
    after = "dro"                        # a pipeline: each run starts from the last checkpoint of
                                         # that (earlier-listed) variant's run of the same setting and seed

An override makes a new ``Variant`` (``sandbox.experiments.variant_overrides``: ``dataclasses.replace`` of the registered one, named by the
label) whose piece parameters are checked against the piece function's own keyword parameters.
``sft`` is continued SFT from the warm start at the same steps (``sandbox.experiments.controls``;
with a generated-token budget it runs ``budget.steps`` steps, since it samples nothing).
Every mistake is one ``ConfigError`` naming the spec field and what is allowed (``validate``).

A spec may grow: a directory made by an earlier version of it accepts the new version when every
run it planned is planned again unchanged (same id, settings, variant, task), so seeds, variants
and settings can be added to a finished grid, and ``[final]`` (which changes no run) can be
added or changed (``sandbox.experiments.runner.prepare``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

import toy_envs
from sandbox.config import allowed_tuple, config_from_json, tuple_items
from sandbox.experiments.variant_overrides import derive_variant, variant_from_dict, variant_to_dict
from sandbox.rewards.registry import VARIANTS, Variant, get_variant
from sandbox.train.rl_config import RLConfig
from sandbox.experiments.spec_record import SpecRecord
from toy_envs.base import ConfigError, check

CONTROLS = ("sft",)
"""Pseudo-variants run by the harness itself: continued SFT from the warm start."""

EVAL_FIELDS = ("eval_every", "eval_problems", "pass_k", "pass_problems", "drift_every", "drift_problems")
"""RLConfig fields set in the spec's ``[evaluation]`` table."""
RUN_FIELDS = ("variant", "seed", "steps", "init", "progress", "max_generated_tokens")
"""RLConfig fields the spec sets from its own keys (never in ``rl``)."""
RL_FIELDS = tuple(f.name for f in dataclasses.fields(RLConfig) if f.name not in RUN_FIELDS + EVAL_FIELDS)
"""RLConfig fields allowed in ``rl.base``, ``rl.grid`` and a variant's ``rl``."""
VARIANT_KEYS = ("variant", "label", "params", "rl", "after")

_RL_TYPES = typing.get_type_hints(RLConfig)


LOGGED_METRIC_PREFIXES = ("eval/", "calib/", "drift/", "rollout/", "cost/", "prm/", "loss/", "diag/", "curriculum/", "refine/", "srl/", "l2t/")
"""The namespaces of the per-step metrics a spec may tabulate (tutorials/guides/design.md lists them)."""

@dataclass(frozen=True)
class VariantSpec:
    variant: str
    """A registered variant name, or a control (``CONTROLS``)."""
    label: str
    """The name of its runs (directory, report rows); the variant name unless overridden."""
    params: dict = field(default_factory=dict)
    """Piece name -> {param: value}; ``loss`` -> loss overrides (``LOSS_KEYS``)."""
    rl: dict = field(default_factory=dict)
    """RLConfig fields of this variant's runs only."""
    after: str = ""
    """The label of a variant listed before this one: this variant's runs start from the last
    checkpoint of that variant's run of the same setting and seed (a pipeline such as SRL then
    outcome RL), not from the spec's ``init``; '' for none."""


@dataclass(frozen=True)
class Run:
    """One run of the grid: where it goes and everything it needs."""

    id: str
    """``<setting>/<label>/seed-<k>``: its directory under the experiment's."""
    setting: str
    label: str
    seed: int
    rl: dict
    """The RLConfig fields (``variant`` is the label)."""
    variant: dict | None
    """The derived ``Variant``'s fields when the label is not a registered variant (else None)."""
    task: str
    task_fields: dict
    after: str = ""
    """The id of the run whose last checkpoint this run starts from (its ``rl["init"]`` is then set
    when the run starts, ``sandbox.experiments.runner.execute``); '' for the spec's ``init``."""

    def rl_config(self) -> RLConfig:
        return config_from_json(RLConfig, self.rl)  # read back from plan.json, a tuple field is a list

    def derived_variant(self) -> Variant | None:
        return None if self.variant is None else variant_from_dict(self.variant)


@dataclass
class ExperimentSpec(SpecRecord):
    name: str = ""
    description: str = ""
    init: str = "tiny"
    seeds: list = field(default_factory=lambda: [0])
    baseline: str = ""
    task: dict = field(default_factory=dict)
    budget: dict = field(default_factory=dict)
    rl: dict = field(default_factory=dict)
    evaluation: dict = field(default_factory=dict)
    final: dict = field(default_factory=dict)
    variants: list = field(default_factory=list)

    # ---- checks -----------------------------------------------------------------------------
    def validate(self) -> list[Run]:
        """Every check, before any compute; returns the expansion (``runs``)."""
        check(isinstance(self.name, str) and bool(self.name) and "/" not in self.name, "name", "a non-empty string without '/'", self.name)
        check(isinstance(self.description, str), "description", "a string", self.description)
        check(isinstance(self.init, str) and bool(self.init), "init", "a warm-start preset or a checkpoint directory", self.init)
        check(isinstance(self.seeds, list) and bool(self.seeds) and all(type(s) is int and s >= 0 for s in self.seeds)
              and len(set(self.seeds)) == len(self.seeds), "seeds", "a non-empty list of distinct integers >= 0, e.g. [0, 1, 2]", self.seeds)
        self.budget_fields()
        self.evaluation_fields()
        self.final_settings()
        self.task_config()
        self.settings()
        specs = self.variant_specs()
        labels = [v.label for v in specs]
        check(not self.baseline or self.baseline in labels, "baseline", f"one of the variants' labels {labels}", self.baseline)
        return self.runs()

    def budget_fields(self) -> tuple[int, int]:
        """(steps, generated_tokens)."""
        check(isinstance(self.budget, dict), "budget", "a table with steps (and generated_tokens)", self.budget)
        unknown = sorted(set(self.budget) - {"steps", "generated_tokens"})
        check(not unknown, "budget", "keys among ['steps', 'generated_tokens']", unknown)
        steps, tokens = self.budget.get("steps"), self.budget.get("generated_tokens", 0)
        check(type(steps) is int and steps >= 1, "budget.steps", "an integer >= 1 (the most steps with generated_tokens)", steps)
        check(type(tokens) is int and tokens >= 0, "budget.generated_tokens", "an integer >= 0 (0: no token budget)", tokens)
        return steps, tokens

    def evaluation_fields(self) -> dict:
        """The RLConfig fields of ``[evaluation]`` (its ``metrics`` are the report's)."""
        check(isinstance(self.evaluation, dict), "evaluation", "a table", self.evaluation)
        allowed = ["metrics", "targets", *EVAL_FIELDS]
        unknown = sorted(set(self.evaluation) - set(allowed))
        check(not unknown, "evaluation", f"keys among {allowed}", unknown)
        metrics = self.evaluation.get("metrics", ["eval/accuracy"])
        check(isinstance(metrics, list) and bool(metrics) and all(isinstance(m, str) and m.startswith(LOGGED_METRIC_PREFIXES) for m in metrics),
              "evaluation.metrics", f"a non-empty list of logged metric names ({', '.join(p + '...' for p in LOGGED_METRIC_PREFIXES)})", metrics)
        targets = self.evaluation.get("targets", {})
        check(isinstance(targets, dict) and all(m.startswith(("eval/", "calib/")) and type(v) in (int, float) for m, v in targets.items()),
              "evaluation.targets", "a table of evaluation metric -> the value a run must reach, e.g. { \"eval/accuracy\" = 0.6 }", targets)
        return {k: typed("evaluation", k, v) for k, v in self.evaluation.items() if k not in ("metrics", "targets")}

    def final_settings(self):
        """The ``[final]`` evaluation's settings (``FinalSettings``), or None without the table."""
        from sandbox.experiments.final_eval import final_settings

        check(isinstance(self.final, dict), "final", "a table with lengths and problems", self.final)
        if not self.final:
            return None
        name, fields = self.task_config()
        return final_settings(self.final, toy_envs.make_task(name, **fields))

    def metrics(self) -> list[str]:
        return list(self.evaluation.get("metrics", ["eval/accuracy"]))

    def report_metrics(self) -> list[str]:
        """The metrics its report tabulates: ``evaluation.metrics``, then ``[final]``'s."""
        from sandbox.experiments.final_eval import final_metric_names

        return self.metrics() + final_metric_names(self.final_settings())

    def task_config(self):
        """(task name, task fields): the warm start's task with ``[task]``'s fields over it."""
        check(isinstance(self.task, dict), "task", "a table of task fields (and an optional name)", self.task)
        name, fields = init_task(self.init)
        given = dict(self.task)
        name = given.pop("name", name)
        check(name in toy_envs.TASKS, "task.name", f"one of {sorted(toy_envs.TASKS)}", name)
        config_type = toy_envs.TASKS[name]
        allowed = sorted(f.name for f in dataclasses.fields(config_type) if f.init)
        for key in given:
            check(key in allowed, f"task.{key}", f"a field of task {name!r}: {allowed}", key)
        merged = {**(fields if name == init_task(self.init)[0] else {}), **given}
        try:
            toy_envs.make_task(name, **merged)
        except ConfigError as err:
            raise ConfigError(f"task: {err}") from None
        return name, merged

    def settings(self) -> list[tuple[str, dict]]:
        """(name, RLConfig fields) of every setting: each of ``rl.settings`` (a list of tables; one
        empty one by default) crossed with every combination of ``rl.grid``, over ``rl.base``."""
        check(isinstance(self.rl, dict), "rl", "a table with base, settings and grid", self.rl)
        unknown = sorted(set(self.rl) - {"base", "grid", "settings"})
        check(not unknown, "rl", "keys among ['base', 'grid', 'settings']", unknown)
        base, grid, listed = self.rl.get("base", {}), self.rl.get("grid", {}), self.rl.get("settings", [{}])
        check(isinstance(base, dict), "rl.base", "a table of RLConfig fields", base)
        check(isinstance(grid, dict), "rl.grid", "a table of RLConfig fields, each a list of values", grid)
        check(isinstance(listed, list) and bool(listed) and all(isinstance(x, dict) for x in listed), "rl.settings",
              "a non-empty list of tables of RLConfig fields ([[rl.settings]])", listed)
        base = {k: typed("rl.base", k, v) for k, v in base.items()}
        for key, values in grid.items():
            check(isinstance(values, list) and bool(values) and len(set(map(repr, values))) == len(values), f"rl.grid.{key}",
                  "a non-empty list of distinct values", values)
            check(key not in base, f"rl.grid.{key}", "a field not also in rl.base", key)
        grid = {k: [typed("rl.grid", k, v) for v in values] for k, values in grid.items()}
        listed = [{k: typed(f"rl.settings[{i}]", k, v) for k, v in x.items()} for i, x in enumerate(listed)]
        for i, x in enumerate(listed):
            both = sorted(set(x) & (set(base) | set(grid)))
            check(not both, f"rl.settings[{i}]", "fields not also in rl.base or rl.grid", both)
        evaluation = self.evaluation_fields()
        out = []
        for chosen_setting in listed:
            for values in itertools.product(*grid.values()):
                chosen = {**chosen_setting, **dict(zip(grid, values))}
                out.append((setting_name(chosen), {**base, **chosen, **evaluation}))
        names = [name for name, _ in out]
        check(len(set(names)) == len(names), "rl.settings", "distinct settings", sorted({n for n in names if names.count(n) > 1}))
        return out

    def variant_specs(self) -> list[VariantSpec]:
        check(isinstance(self.variants, list) and bool(self.variants), "variants", "a non-empty list of [[variants]] tables", self.variants)
        out = []
        for i, entry in enumerate(self.variants):
            where = f"variants[{i}]"
            check(isinstance(entry, dict), where, "a table with variant (and label, params, rl)", entry)
            unknown = sorted(set(entry) - set(VARIANT_KEYS))
            check(not unknown, where, f"keys among {list(VARIANT_KEYS)}", unknown)
            name = entry.get("variant")
            check(name in VARIANTS or name in CONTROLS, f"{where}.variant", f"one of {sorted(VARIANTS)} or a control {list(CONTROLS)}", name)
            params, rl = entry.get("params", {}), entry.get("rl", {})
            check(isinstance(params, dict), f"{where}.params", "a table: piece name -> {param: value}", params)
            check(isinstance(rl, dict), f"{where}.rl", "a table of RLConfig fields", rl)
            rl = {k: typed(f"{where}.rl", k, v) for k, v in rl.items()}
            label = entry.get("label", name)
            check(isinstance(label, str) and bool(label) and "/" not in label and not label.startswith("."), f"{where}.label",
                  "a non-empty name without '/' (the runs' directory)", label)
            after = entry.get("after", "")
            earlier = [v.label for v in out]
            check(after == "" or after in earlier, f"{where}.after", f"the label of a variant listed before this one {earlier}", after)
            check(not (after and name in CONTROLS), f"{where}.after", "empty for the control 'sft' (it continues the warm start's SFT)", after)
            if name in CONTROLS:
                check(not params, f"{where}.params", "empty for the control 'sft' (it has no reward pieces)", params)
            elif params:
                check(label != name and label not in VARIANTS and label not in CONTROLS, f"{where}.label",
                      "a new name (not a registered variant) for a variant with params overrides", label)
                derive_variant(get_variant(name), label, params, f"{where}.params")
            out.append(VariantSpec(name, label, params, rl, after))
        labels = [v.label for v in out]
        duplicate = sorted({x for x in labels if labels.count(x) > 1})
        check(not duplicate, "variants", "distinct labels (give a label to each copy of a variant)", duplicate)
        return out

    # ---- expansion --------------------------------------------------------------------------
    def runs(self) -> list[Run]:
        """Every run, first seed of every setting and variant first (a coarse screen finishes early)."""
        steps, tokens = self.budget_fields()
        task_name, task_fields = self.task_config()
        task = toy_envs.make_task(task_name, **task_fields)
        out = []
        variant_specs = self.variant_specs()
        settings = self.settings()
        for seed in self.seeds:
            for setting, fields in settings:
                for v in variant_specs:
                    rl = {**fields, **v.rl, "variant": v.variant if not v.params else v.label, "seed": seed, "steps": steps,
                          "max_generated_tokens": tokens, "init": self.init, "progress": False}
                    derived = None
                    if v.variant not in CONTROLS and v.params:
                        derived = variant_to_dict(derive_variant(get_variant(v.variant), v.label, v.params, "params"))
                    check_rl(rl, derived, task, f"variant {v.label!r}, setting {setting!r}")
                    after = f"{setting}/{v.after}/seed-{seed}" if v.after else ""
                    out.append(Run(f"{setting}/{v.label}/seed-{seed}", setting, v.label, seed, rl, derived, task_name, task_fields, after))
        return out


def read_toml(path: str | Path, field: str) -> dict:
    """A TOML file's table; ``ConfigError`` naming ``field`` when it is missing or not TOML."""
    path = Path(path)
    check(path.is_file(), field, "an existing TOML file", str(path))
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{field}={str(path)!r} is not allowed: not valid TOML ({err})") from None


def load_spec(path: str | Path):
    """Read a spec file: an RL grid (``ExperimentSpec``) or, with a ``bench`` key, a benchmark spec
    (``sandbox.experiments.prm_spec.PRMBenchSpec``); ``ConfigError`` naming it when it is missing
    or not TOML."""
    from sandbox.experiments.prm_spec import PRMBenchSpec, is_bench_spec

    data = read_toml(path, "spec")
    return PRMBenchSpec.from_dict(data) if is_bench_spec(data) else ExperimentSpec.from_dict(data)


def typed(where: str, name: str, value):
    """An RLConfig field's value from TOML, checked against the field's type."""
    allowed = RL_FIELDS if not where.startswith("evaluation") else EVAL_FIELDS
    check(name in allowed, f"{where}.{name}", f"an RLConfig field among {sorted(allowed)}", name)
    kind = _RL_TYPES[name]
    if tuple_items(kind) is not None:  # a TOML array, e.g. adam_betas = [0.9, 0.999]
        item, length = tuple_items(kind)
        ok = isinstance(value, list) and (length is None or len(value) == length)
        ok = ok and all(type(v) is item or item is float and type(v) is int for v in value)
        check(ok, f"{where}.{name}", "an array of " + allowed_tuple(kind).replace("comma-separated ", ""), value)
        return tuple(float(v) if item is float else v for v in value)
    if kind is float and type(value) is int:
        value = float(value)
    check(type(value) is kind, f"{where}.{name}", f"a {kind.__name__}", value)
    return value


def setting_name(chosen: dict) -> str:
    """The grid values of a setting, e.g. 'lr=1e-05,problems_per_step=16' ('base' for an empty grid)."""
    def written(v):
        return f"{v:g}" if isinstance(v, float) else ",".join(map(written, v)) if isinstance(v, tuple) else str(v)

    return ",".join(f"{k}={written(v)}" for k, v in chosen.items()) or "base"


def init_task(init: str) -> tuple[str, dict]:
    """(task name, task fields) the warm start ``init`` was trained on, read without loading weights."""
    from sandbox.train.recipes import RECIPES, warmstart_names

    if init in warmstart_names():
        preset = RECIPES[init].config
        return preset.task, dict(preset.task_fields)
    state = Path(init) / "state.json"
    check(state.is_file(), "init", f"a warm-start preset {warmstart_names()} or a checkpoint directory", init)
    saved = json.loads(state.read_text())
    return saved.get("task", "arithmetic"), saved.get("task_fields", {})


def check_rl(rl: dict, derived: dict | None, task, where: str) -> None:
    """The run's RLConfig validates (its variant registered for the check when derived) and the
    task holds the train problems it can draw."""
    from sandbox.rewards.catalog import registered
    from sandbox.train.rl_config import check_task_size

    variant = rl["variant"]
    cfg = RLConfig(**{**rl, "variant": "outcome-grpo" if variant in CONTROLS else variant})
    try:
        with registered([variant_from_dict(derived)] if derived else []):
            cfg.validate()
            check_task_size(cfg, task)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
