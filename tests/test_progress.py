"""The training loops' progress bar: drawn when requested in a notebook or on a terminal, never in a log."""

import io
import sys

from sandbox.train.progress import in_notebook, progress_bar


def test_a_progress_bar_shows_on_request_in_a_notebook_and_on_a_terminal_only(monkeypatch):
    notebook_stream = type("OutStream", (io.StringIO,), {"__module__": "ipykernel.iostream"})  # ipykernel's class
    terminal = type("Terminal", (io.StringIO,), {"isatty": lambda self: True})
    for stream, shown in ((notebook_stream(), True), (terminal(), True), (io.StringIO(), False)):  # the last: a log file
        monkeypatch.setattr(sys, "stderr", stream)
        assert in_notebook() is (stream.__class__.__name__ == "OutStream")
        bar = progress_bar(True, range(3), desc="steps")
        assert bar.disable is not shown  # (a bar disables itself once closed)
        assert list(bar) == [0, 1, 2] and ("3/3" in stream.getvalue()) is shown
        quiet = progress_bar(False, range(3))
        assert quiet.disable and list(quiet) == [0, 1, 2]  # not requested: never drawn
    assert "steps" not in stream.getvalue()
