"""The order the tests run in, and the CPU seconds of every test (tests/ and the tutorials), listed
after pytest's ``--durations``.

Tests that need no cached model run first (``pytest_collection_modifyitems``): the models are
built beside them under ``dev.py test``.

A test's CPU seconds are user + system time of the process running it and of the child processes
it waited for (notebook kernels, CLI and torchrun subprocesses), over its setup, call and
teardown. Wall-clock durations grow with whatever else the machine runs (and, under
``dev.py test``, with the model builds beside the tests, which a test may wait for); CPU
seconds much less, so these are the numbers to compare between runs. Under pytest-xdist each
worker measures its own tests and the controller sums them. Nothing is measured where the
``resource`` module is missing (Windows).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

try:
    import resource
except ImportError:  # Windows
    resource = None

CPU_SHOWN = 20
"""How many of the tests (and of the files) with the most CPU seconds the summary lists, unless
``--durations=N`` asks for another number (0: all of them)."""

_started = pytest.StashKey[float]()
_measured: dict[str, float] = {}


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished (waited-for) children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if resource is not None:
        item.stash[_started] = cpu_seconds()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if resource is not None and call.when == "teardown" and _started in item.stash:
        outcome.get_result().user_properties.append(("cpu_s", cpu_seconds() - item.stash[_started]))


def pytest_runtest_logreport(report):
    """Runs where the report is logged: the only process without xdist, the controller with it."""
    for key, value in report.user_properties:
        if key == "cpu_s":
            _measured[report.nodeid] = value


MODEL_WORDS = ("recipes", "warmstart_", "--init", "tiny")
"""Words in a test file that may load a cached model: the recipe table, the model fixtures, a
training run's init, a recipe name."""


@functools.lru_cache(maxsize=None)
def names_models(path: str) -> bool:
    """``path`` (a test file) contains one of ``MODEL_WORDS``."""
    return any(word in Path(path).read_text(errors="replace") for word in MODEL_WORDS)


def waits_for_models(item) -> int:
    """How likely the test waits for a cached model's build: 2 where it takes a model fixture (named
    ``warmstart_*``, tests/conftest.py), is marked ``slow`` (the learning tests and end-to-end runs)
    or is a notebook; 1 where its file names a model otherwise (``MODEL_WORDS``); 0 else."""
    if (".ipynb" in item.nodeid or item.get_closest_marker("slow") is not None
            or any(name.startswith("warmstart_") for name in item.fixturenames)):
        return 2
    return int(names_models(str(item.path)))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """The tests least likely to need a cached model first (``waits_for_models``), each group in
    collection order. Under ``dev.py test`` the models are built beside the tests, 'tiny' first
    (every other one starts from it: one core's work for about a minute); a pytest worker that
    reaches a test needing a model waits for its build, and in collection order both workers
    waited on 'tiny' for 46 s while the second core idled. A wrong guess costs time, not a result.
    Every worker sorts the same items alike (pytest-xdist requires the same order)."""
    items.sort(key=waits_for_models)


def pytest_terminal_summary(terminalreporter, config):
    if not _measured:
        return
    asked = config.getoption("durations", None)
    shown = CPU_SHOWN if asked is None else asked or len(_measured)
    notebooks = sum(s for nodeid, s in _measured.items() if ".ipynb" in nodeid)
    total = sum(_measured.values())
    terminalreporter.write_sep("=", f"most CPU seconds, {min(shown, len(_measured))} of {len(_measured)} tests")
    for nodeid, seconds in sorted(_measured.items(), key=lambda kv: -kv[1])[:shown]:
        terminalreporter.write_line(f"{seconds:7.2f}s cpu  {nodeid}")
    by_file: dict[str, list[float]] = {}
    for nodeid, seconds in _measured.items():
        by_file.setdefault(nodeid.split("::")[0], []).append(seconds)
    terminalreporter.write_sep("=", f"most CPU seconds by file, {min(shown, len(by_file))} of {len(by_file)} files")
    for path, seconds in sorted(by_file.items(), key=lambda kv: -sum(kv[1]))[:shown]:
        terminalreporter.write_line(f"{sum(seconds):7.2f}s cpu  {path} ({len(seconds)} tests)")
    terminalreporter.write_line(f"CPU seconds in all: {total:.0f} (notebooks {notebooks:.0f}, the rest {total - notebooks:.0f}; "
                                "setup, call and teardown, with the child processes each test waited for)")
