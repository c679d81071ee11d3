"""Typed config dataclasses ↔ command-line flags.

Each config field carries its one-line doc as a string literal right below it (CleanRL
style). Python drops those literals at run time, so ``field_docs`` reads them back from the
class source with ``ast``; ``add_dataclass_args`` turns every field into a ``--flag`` whose
help is that doc, and ``dataclass_from_args`` builds the config and validates it before any
compute happens.

A list-valued field is a tuple (``tuple[int, ...]``, ``tuple[str, ...]``, ``tuple[float, float]``);
its flag takes the items comma-separated (``--seeds 0,1,2``, help showing the default that way), and
``parse_tuple``, called by ``dataclass_from_args``, is the one place such text becomes a tuple
(``config_from_json`` reads a config back from JSON, where a tuple is a list).
``check_tuple_fields`` is the type check every ``validate()`` makes of them (a comma string passed
in Python is refused, not read character by character).
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


def tuple_items(annotation) -> tuple[type, int | None] | None:
    """``(item type, length)`` of a tuple annotation (length ``None`` for ``tuple[X, ...]``), else ``None``."""
    if typing.get_origin(annotation) is not tuple:
        return None
    args = typing.get_args(annotation)
    if len(args) == 2 and args[1] is Ellipsis:
        return args[0], None
    if not args or len(set(args)) != 1:
        raise TypeError(f"config tuples hold one item type: {annotation}")
    return args[0], len(args)


_ITEM_NAMES = {int: "integers", float: "numbers", str: "names"}


def allowed_tuple(annotation) -> str:
    """What a tuple field allows, in words, e.g. 'comma-separated integers' or 'two comma-separated numbers'."""
    item, length = tuple_items(annotation)
    count = {None: "", 1: "one ", 2: "two ", 3: "three "}.get(length, f"{length} ")
    return f"{count}comma-separated {_ITEM_NAMES[item]}"


def parse_tuple(field_name: str, text: str, annotation) -> tuple:
    """The tuple that ``text`` (comma-separated items, spaces around them ignored, '' for none)
    writes for a field of type ``annotation``; ``ConfigError`` naming ``field_name`` when an item
    is not of the item type or the count differs from a fixed-length tuple's."""
    from toy_envs.base import ConfigError

    item, length = tuple_items(annotation)
    parts = [part.strip() for part in text.split(",")] if text.strip() else []
    try:
        value = tuple(item(part) for part in parts)
    except ValueError:
        raise ConfigError(f"{field_name}={text!r} is not allowed: {allowed_tuple(annotation)}") from None
    if length is not None and len(value) != length or item is str and not all(value):
        raise ConfigError(f"{field_name}={text!r} is not allowed: {allowed_tuple(annotation)}")
    return value


def check_tuple_fields(config) -> None:
    """``ConfigError`` naming the first tuple-typed field of dataclass ``config`` that is not a tuple
    of its item type (of its length, for a fixed-length tuple): a config built in Python with a
    comma string or a list where a tuple belongs is refused, not read character by character."""
    from toy_envs.base import check, is_int

    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        items = tuple_items(hints[f.name])
        if items is None:
            continue
        item, length = items
        value = getattr(config, f.name)
        of_type = {int: is_int, float: lambda v: is_int(v) or isinstance(v, float), str: lambda v: isinstance(v, str)}[item]
        ok = isinstance(value, tuple) and all(of_type(v) for v in value) and (length is None or len(value) == length)
        check(ok, f.name, f"a tuple of {allowed_tuple(hints[f.name]).replace('comma-separated ', '')}", value)


def config_from_json(cls, saved: dict):
    """``cls`` from its fields as JSON holds them (``asdict`` written with ``json``): a tuple field's
    list becomes a tuple again, and its comma-separated text (written before the field was a tuple)
    goes through ``parse_tuple``."""
    hints = typing.get_type_hints(cls)
    values = dict(saved)
    for f in dataclasses.fields(cls):
        value = values.get(f.name)
        if tuple_items(hints[f.name]) is not None and isinstance(value, (list, str)):
            values[f.name] = parse_tuple(f.name, value, hints[f.name]) if isinstance(value, str) else tuple(value)
    return cls(**values)


def _parser_for(annotation):
    """(argparse type, nargs/choices kwargs) for a field's annotation; a tuple field's text is kept
    as written (``dataclass_from_args`` parses it, naming the field when it is wrong)."""
    if tuple_items(annotation) is not None:
        item, length = tuple_items(annotation)
        name = {int: "INT", float: "FLOAT", str: "NAME"}[item]
        return str, {"metavar": ",".join([name] * length) if length else f"{name},..."}
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
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default  # as the flag is written
        flag = "--" + (prefix + f.name).replace("_", "-")
        group.add_argument(
            flag,
            dest=prefix + f.name,
            type=convert,
            default=default,
            help=f"{docs.get(f.name, '')} (default: {shown})".replace("%", "%%"),  # argparse formats help with %
            **extra,
        )


def check_finite_fields(config) -> None:
    """``ConfigError`` naming the first float field of dataclass ``config`` that is NaN or infinite
    (no config field gives either a meaning; ``float("nan") > 0`` being False would otherwise let
    a NaN slip through a range check, or select a "use the default" branch)."""
    from toy_envs.base import check

    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, float):
                check(math.isfinite(item), f.name, "finite numbers" if isinstance(value, tuple) else "a finite number", value)


def dataclass_from_args(cls, args: argparse.Namespace, prefix: str = ""):
    """Build ``cls`` from parsed flags (a tuple field's comma-separated text through ``parse_tuple``),
    reject NaN/inf floats and call its ``validate()`` (if it has one)."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.init:
            value = getattr(args, prefix + f.name)
            tuple_field = tuple_items(hints[f.name]) is not None
            values[f.name] = parse_tuple(f.name, value, hints[f.name]) if tuple_field and isinstance(value, str) else value
    config = cls(**values)
    check_finite_fields(config)
    if hasattr(config, "validate"):
        config.validate()
    return config
