"""Typed config dataclasses ↔ command-line flags.

Each config field carries its one-line doc as a string literal right below it (CleanRL
style). Python drops those literals at run time, so ``field_docs`` reads them back from the
class source with ``ast``; ``add_dataclass_args`` turns every field into a ``--flag`` whose
help is that doc, and ``dataclass_from_args`` builds the config and validates it before any
compute happens.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import math
import textwrap
import types
import typing
from functools import cache


@cache
def field_docs(cls) -> dict[str, str]:
    """``{field: doc}`` from the string literal under each field of ``cls`` (and its bases)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass is object:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body
        for node, following in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def _parser_for(annotation):
    """(argparse type, nargs/choices kwargs) for a field's annotation."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        inner, _ = _parser_for(args[0])
        return (lambda s: None if s.lower() == "none" else inner(s)), {}
    if annotation is bool:  # ``--flag`` alone means true
        return (lambda s: _parse_bool(s)), {"metavar": "{true,false}", "nargs": "?", "const": True}
    if origin is typing.Literal:
        return type(args[0]), {"choices": list(args)}
    if annotation in (int, float, str):
        return annotation, {}
    return str, {}


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_dataclass_args(parser: argparse.ArgumentParser, cls, prefix: str = "", title: str | None = None) -> None:
    """Add ``--{prefix}{field}`` for every field of dataclass ``cls`` (default: the field's default)."""
    group = parser.add_argument_group(title or cls.__name__)
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        convert, extra = _parser_for(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        flag = "--" + (prefix + f.name).replace("_", "-")
        group.add_argument(
            flag,
            dest=prefix + f.name,
            type=convert,
            default=default,
            help=f"{docs.get(f.name, '')} (default: {default})".replace("%", "%%"),  # argparse formats help with %
            **extra,
        )


def check_finite_fields(config) -> None:
    """``ConfigError`` naming the first float field of dataclass ``config`` that is NaN or infinite
    (no config field gives either a meaning; ``float("nan") > 0`` being False would otherwise let
    a NaN slip through a range check, or select a "use the default" branch)."""
    from toy_envs.base import check

    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, float):
            check(math.isfinite(value), f.name, "a finite number", value)


def dataclass_from_args(cls, args: argparse.Namespace, prefix: str = ""):
    """Build ``cls`` from parsed flags, reject NaN/inf floats and call its ``validate()`` (if it has one)."""
    values = {f.name: getattr(args, prefix + f.name) for f in dataclasses.fields(cls) if f.init}
    config = cls(**values)
    check_finite_fields(config)
    if hasattr(config, "validate"):
        config.validate()
    return config
