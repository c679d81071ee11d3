"""CPU seconds of every test (tests/ and the tutorials), listed after pytest's ``--durations``.

A test's CPU seconds are user + system time of the process running it and of the child processes
it waited for (notebook kernels, CLI and torchrun subprocesses), over its setup, call and
teardown. Wall-clock durations grow with whatever else the machine runs (and, under
``dev.py test``, with the model builds beside the tests, which a test may wait for); CPU
seconds much less, so these are the numbers to compare between runs. Under pytest-xdist each
worker measures its own tests and the controller sums them. Nothing is measured where the
``resource`` module is missing (Windows).
"""

from __future__ import annotations

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
