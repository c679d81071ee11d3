"""A variant with other piece parameters: what an experiment spec's ``params`` table makes.

    derived = dataclasses.replace(registered variant, name = label,
                                  each overridden piece's params = {**current, **given})

A piece's options are its keyword parameters after the call's inputs (``piece_options``); a given
name must be one of them and its value of the default's type, so an ablation (e.g. DRO's R3 with
uniform instead of σ weights) needs no code and no catalog entry. ``variant_to_dict`` /
``variant_from_dict`` carry a derived variant through the plan's JSON to the worker that runs it.
"""

from __future__ import annotations

import dataclasses
import inspect
import json

from sandbox.rewards import pieces
from sandbox.rewards.registry import LOSS_KEYS, Variant
from toy_envs.base import check

PIECE_TABLES = {
    "sources": (pieces.SOURCES, 2),
    "filters": (pieces.FILTERS, 3),
    "problem_filter": (pieces.PROBLEM_FILTERS, 3),
    "estimator": (pieces.ESTIMATORS, 4),
    "sampler": (pieces.SAMPLERS, 7),
    "auxiliaries": (pieces.AUXILIARIES, 3),
    "distillation": (pieces.DISTILLATIONS, 0),
    "refinement": (pieces.REFINEMENTS, 0),
}
"""Kind of piece -> (its table, how many leading parameters are the call's inputs, not options)."""


def piece_options(kind: str, name: str) -> dict:
    """The options a piece takes: its keyword parameters after the call's inputs -> default."""
    table, inputs = PIECE_TABLES[kind]
    params = list(inspect.signature(table[name]).parameters.values())[inputs:]
    return {p.name: p.default for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            and "Tensor" not in str(p.annotation) and p.default is not inspect.Parameter.empty}


def variant_pieces(variant: Variant) -> dict[str, str]:
    """Piece name -> kind, for every piece the variant uses."""
    out = {name: "sources" for name, _, _ in variant.sources}
    out |= {name: "filters" for name, _ in variant.filters}
    if variant.problem_filter:
        out[variant.problem_filter[0]] = "problem_filter"
    out[variant.estimator] = "estimator"
    out[variant.sampler] = "sampler"
    out |= {name: "auxiliaries" for name, _ in variant.auxiliaries}
    if variant.distillation:
        out[variant.distillation[0]] = "distillation"
    if variant.refinement:
        out[variant.refinement[0]] = "refinement"
    return out


def check_value(where: str, value, default):
    """A TOML value for a piece option: lists become tuples; its type must be the default's."""
    if isinstance(value, list):
        value = tuple(value)
    if default is None or value is None:
        return value
    ok = isinstance(value, type(default)) or (isinstance(default, float) and type(value) is int and not isinstance(value, bool))
    check(ok and not (isinstance(value, bool) and not isinstance(default, bool)), where, f"a {type(default).__name__} (like the default {default!r})", value)
    return float(value) if isinstance(default, float) else value


def derive_variant(base: Variant, label: str, params: dict, where: str) -> Variant:
    """``base`` with the overridden piece parameters, named ``label``."""
    used = variant_pieces(base)
    allowed = sorted(used) + ["loss"]
    for piece, values in params.items():
        check(piece in allowed, f"{where}.{piece}", f"a piece of variant {base.name!r}: one of {allowed}", piece)
        check(isinstance(values, dict), f"{where}.{piece}", "a table {param: value}", values)
    changes = {}
    loss = params.get("loss", {})
    for key in loss:
        check(key in LOSS_KEYS, f"{where}.loss.{key}", f"a loss override among {list(LOSS_KEYS)}", key)
    if loss:
        changes["loss"] = {**base.loss, **loss}

    def options(piece: str, current: dict, extra: tuple = ()) -> dict:
        given = params.get(piece, {})
        known = piece_options(used[piece], piece)
        names = sorted(known) + list(extra)
        out = dict(current)
        for key, value in given.items():
            check(key in names, f"{where}.{piece}.{key}", f"a parameter of {piece!r}: one of {names}", key)
            if key not in extra:
                out[key] = check_value(f"{where}.{piece}.{key}", value, known[key])
        return out

    if any(name in params for name, _, _ in base.sources):
        sources = []
        for name, weight, current in base.sources:
            if name in params:
                weight = check_value(f"{where}.{name}.weight", params[name].get("weight", weight), 1.0)
            sources.append((name, weight, options(name, current, ("weight",)) if name in params else current))
        changes["sources"] = tuple(sources)
    if any(name in params for name, _ in base.filters):
        changes["filters"] = tuple((name, options(name, current) if name in params else current) for name, current in base.filters)
    if base.problem_filter and base.problem_filter[0] in params:
        changes["problem_filter"] = (base.problem_filter[0], options(base.problem_filter[0], base.problem_filter[1]))
    if base.estimator in params:
        changes["estimator_options"] = options(base.estimator, base.estimator_options)
    if base.sampler in params:
        changes["sampler_options"] = options(base.sampler, base.sampler_options)
    if any(name in params for name, _ in base.auxiliaries):
        changes["auxiliaries"] = tuple((name, options(name, current) if name in params else current) for name, current in base.auxiliaries)
    if base.distillation and base.distillation[0] in params:
        changes["distillation"] = (base.distillation[0], options(base.distillation[0], base.distillation[1]))
    if base.refinement and base.refinement[0] in params:
        changes["refinement"] = (base.refinement[0], options(base.refinement[0], base.refinement[1]))
    overridden = "; ".join(f"{piece} {values}" for piece, values in params.items())
    return dataclasses.replace(base, name=label, description=f"{base.name} with {overridden}: {base.description}", **changes)


def variant_to_dict(variant: Variant) -> dict:
    """The fields of a Variant as JSON-ready values (tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(variant)))


def variant_from_dict(data: dict) -> Variant:
    """Inverse of ``variant_to_dict`` (lists back to the tuples the Variant holds)."""
    def tuples(value):
        if isinstance(value, list):
            return tuple(tuples(v) for v in value)
        if isinstance(value, dict):
            return {k: tuples(v) for k, v in value.items()}
        return value

    fields = {k: tuples(v) for k, v in data.items()}
    for key in ("estimator_options", "loss", "sampler_options", "models"):
        fields[key] = dict(fields[key])
    return Variant(**fields)
