"""The pieces every ``reward-sandbox`` (sub)command is built from: the ``Command`` row of a
table, the parser it builds, and the flags several commands share."""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import toy_envs
from sandbox.config import add_dataclass_args, dataclass_from_args
from toy_envs.base import ConfigError


@dataclass(frozen=True)
class Command:
    """One (sub)command: ``add(parser, argv)`` declares its flags (``argv`` lets it peek at
    ``--task`` or ``--init``, whose fields become flags too), ``run(args)`` hands the parsed
    flags to the library and returns the exit code. A command with ``subcommands`` parses
    ``reward-sandbox NAME WHICH ...``: each of them gets the ``shared`` flags after its own, and
    ``before(args)`` runs ahead of the chosen one."""

    help: str
    add: Callable[[argparse.ArgumentParser, list[str]], None] = lambda parser, argv: None
    run: Callable[[argparse.Namespace], int] | None = None
    subcommands: dict[str, "Command"] = field(default_factory=dict)
    shared: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    before: Callable[[argparse.Namespace], None] = lambda args: None
    respell: Callable[[list[str]], list[str]] = lambda argv: argv
    """Another spelling of some flags, rewritten before parsing (``train``: ``--model`` is ``--init``)."""


def build_parser(name: str, command: Command, argv: list[str]) -> argparse.ArgumentParser:
    """The parser of ``reward-sandbox NAME`` (with one subparser per subcommand)."""
    parser = argparse.ArgumentParser(prog=f"reward-sandbox {name}", description=command.help)
    if not command.subcommands:
        command.add(parser, argv)
        return parser
    sub = parser.add_subparsers(dest="which", required=True)
    for which, child in command.subcommands.items():
        child_parser = sub.add_parser(which, help=child.help.replace("%", "%%"))  # argparse %-formats help
        child.add(child_parser, argv)
        command.shared(child_parser)
    return parser


def dispatch(name: str, command: Command, argv: list[str]) -> int:
    """Parse ``argv`` for ``reward-sandbox NAME`` and run the command (or the chosen subcommand);
    a ``ConfigError`` names the flags, not the config fields (``with_flags``)."""
    parser = build_parser(name, command, argv)
    readable_defaults(parser)
    args = parser.parse_args(argv)
    try:
        if command.subcommands:
            command.before(args)
            return command.subcommands[args.which].run(args)
        return command.run(args)
    except ConfigError as err:
        raise ConfigError(with_flags(str(err), flags_of(parser, args))) from None


def parsers_of(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and its subcommands' parsers."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [parser, *(child for sub in subs for child in sub.choices.values())]


def flags_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, str]:
    """Destination (config field with its prefix, e.g. ``task_n_steps``) -> its flag, for the
    command (and the subcommand) ``args`` was parsed for."""
    chosen = [parser] + [p for p in parsers_of(parser)[1:] if p.prog.split()[-1] == getattr(args, "which", None)]
    return {a.dest: max(a.option_strings, key=len) for p in chosen for a in p._actions if a.option_strings}


FIELD_AT_START = re.compile(r"^([a-z][a-z0-9_]*)=")
FIELD_INSIDE = re.compile(r"(?<=[\s(])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?=[\s=,;:)]|$)")


def with_flags(message: str, flags: dict[str, str]) -> str:
    """``message`` (a ``ConfigError``: ``field=value is not allowed: ...``) with the field it starts
    with, and the snake_case fields it mentions, spelled as the flags that set them: ``n_steps``
    is ``--task-n-steps``, ``steps`` of SFT ``--sft-steps``. A name no flag sets, or several
    could, is left as it is."""

    def flag(name: str) -> str | None:
        if name in flags:
            return flags[name]
        prefixed = [dest for dest in flags if "_" in dest and dest.split("_", 1)[1] == name]
        return flags[prefixed[0]] if len(prefixed) == 1 else None

    start = FIELD_AT_START.match(message)
    if start and flag(start[1]):
        message = flag(start[1]) + message[len(start[1]):]
    return FIELD_INSIDE.sub(lambda m: flag(m[1]) or m[1], message)


SENTINEL = re.compile(r"\b(negative|empty|0) = ([^;.(]+)")
"""A field doc saying what a sentinel default means, e.g. ``negative = the variant's value``."""


def readable_defaults(parser: argparse.ArgumentParser) -> None:
    """Help that says what a sentinel default means (``-1.0`` -> the variant's value, ``""`` ->
    none), read from the field's doc (``negative = ...``, ``empty = ...``, ``0 = ...``)."""
    for each in parsers_of(parser):
        for action in each._actions:
            if not (action.help and action.help.endswith(f"(default: {action.default})")):
                continue
            meaning = next((m[2].strip() for m in SENTINEL.finditer(action.help) if is_sentinel(m[1], action.default)), None)
            if meaning is None and action.default == "":
                meaning = "none"
            if meaning is not None:
                action.help = action.help[: -len(f"(default: {action.default})")] + f"(default: {meaning})"


def is_sentinel(word: str, default) -> bool:
    if word == "empty":
        return default == ""
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        return False
    return default < 0 if word == "negative" else default == 0


# ---- shared flags -------------------------------------------------------------------------


def peek_task(argv: list[str]) -> str:
    """The ``--task`` value (so the task's own fields can be added as flags)."""
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--task", default="arithmetic")
    known, _ = peek.parse_known_args(argv)
    if known.task not in toy_envs.TASKS:
        raise ConfigError(f"--task={known.task!r} is not allowed: one of {sorted(toy_envs.TASKS)}")
    return known.task


def add_task_args(parser: argparse.ArgumentParser, argv: list[str], defaults: dict | None = None) -> None:
    task_name = peek_task(argv)
    parser.add_argument("--task", default="arithmetic", choices=sorted(toy_envs.TASKS), help="Task to train/evaluate on.")
    add_dataclass_args(parser, toy_envs.TASKS[task_name], prefix="task_", title=f"task '{task_name}' fields (--task-*)")
    if defaults:
        parser.set_defaults(**{f"task_{k}": v for k, v in defaults.items()})


def task_from(args):
    return dataclass_from_args(toy_envs.TASKS[args.task], args, prefix="task_")


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, default=None, help="Also write the results to this JSON file.")


def add_threads(parser: argparse.ArgumentParser, default: int = 1) -> None:
    parser.add_argument("--threads", type=int, default=default, help="torch threads.")


def set_threads(args) -> None:
    from sandbox.train.launch import set_threads

    set_threads(args.threads)


def report(args, results: dict, text: str) -> int:
    """Print ``text``; with ``--json``, also write ``results`` there."""
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def presets() -> list[str]:
    from sandbox.train.recipes import warmstart_names

    return warmstart_names()


def add_init(parser: argparse.ArgumentParser, help: str = "Warm start: the policy and the PRM's backbone.") -> None:
    parser.add_argument("--init", default="tiny", choices=presets(), help=help)
