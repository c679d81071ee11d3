"""``reward-sandbox variants --explain NAME``: each piece of a variant with its file and equation.

A variant composes pieces by name (``sandbox.rewards.registry``); every piece lives in its own
module whose docstring states its equation as an indented block under the summary line. This
prints, per piece (sources with weights, filters, problem filter, estimator, sampler,
auxiliary models, loss overrides), its options, its file and that block, so a reader sees what
a variant computes without opening the registry.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

MAX_EQUATION_LINES = 4
"""The first indented block of a piece's module docstring, cut to this many lines."""


def equation(piece) -> list[str]:
    """The first indented block of the docstring of the module defining ``piece`` (its equation,
    relative indentation kept); the docstring's first sentence when it has none."""
    doc = inspect.getdoc(inspect.getmodule(inspect.unwrap(piece))) or ""
    lines = doc.splitlines()
    block: list[str] = []
    for line in lines[1:]:
        if line.startswith("    ") and line.strip():
            block.append(line[4:].rstrip())
        elif block:
            break
    summary = re.split(r"\.(?:\s|$)", " ".join(doc.split("\n\n", 1)[0].split()), maxsplit=1)[0]
    return block[:MAX_EQUATION_LINES] or [summary]


def source_file(piece) -> str:
    """The path of the file defining ``piece``, relative to the directory holding ``sandbox``."""
    path = Path(inspect.getsourcefile(inspect.unwrap(piece))).resolve()
    root = Path(__file__).resolve().parents[2]
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _options(params: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def _piece(role: str, name: str, piece, detail: str = "") -> list[str]:
    head = f"  {role:<14} {name}" + (f" ({detail})" if detail else "") + f"   {source_file(piece)}"
    return [head, *(f"  {'':<14}   {line}" for line in equation(piece))]


def explain_variant(name: str) -> str:
    """The variant ``name`` piece by piece (``ConfigError`` for an unknown name)."""
    from sandbox.rewards import registry

    variant = registry.get_variant(name)
    out = [f"{variant.name}: {variant.description}"]
    for source, weight, params in variant.sources:
        out += _piece("source", source, registry.SOURCES[source], _options({"weight": weight, **params}))
    for kind, spec in getattr(variant, "models", {}).items():
        out.append(f"  {'model':<14} {kind}: {spec!r} (loaded by the trainer; RLConfig.prm overrides it)")
    for filter_name, params in variant.filters:
        out += _piece("filter", filter_name, registry.FILTERS[filter_name], _options(params))
    if variant.problem_filter:
        filter_name, params = variant.problem_filter
        out += _piece("problem filter", filter_name, registry.PROBLEM_FILTERS[filter_name],
                      _options({**params, "every": variant.problem_filter_every}))
    out += _piece("estimator", variant.estimator, registry.ESTIMATORS[variant.estimator], _options(variant.estimator_options))
    out += _piece("sampler", variant.sampler, registry.SAMPLERS[variant.sampler],
                  _options({**variant.sampler_options, **({"refill": True} if variant.refill else {})}))
    for auxiliary, params in variant.auxiliaries:
        out += _piece("auxiliary", auxiliary, registry.AUXILIARIES[auxiliary], _options(params))
    if variant.distillation:
        name, params = variant.distillation
        out += _piece("distillation", name, registry.DISTILLATIONS[name], _options(params))
    if variant.refinement:
        name, params = variant.refinement
        out += _piece("refinement", name, registry.REFINEMENTS[name], _options(params))
    if variant.loss:
        out.append(f"  {'loss':<14} {_options(variant.loss)}   (policy-loss overrides)")
    if not variant.uses_verifier:
        out.append(f"  {'verifier':<14} not used in training (held-out evaluation still uses it)")
    return "\n".join(out)
