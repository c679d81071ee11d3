"""The progress bar of every training loop: drawn on a terminal and in a notebook, silent elsewhere.

    progress_bar(show, iterable=None, **tqdm_options) -> tqdm

tqdm's own rule (``disable=None``) draws a bar only when stderr is a TTY. A Jupyter kernel's stderr
is no TTY, so that rule hides every bar in a notebook, where a training cell then runs for a minute
with no output; yet the kernel's stream renders tqdm's ``\\r`` updates in place (JupyterLab, and the
outputs nbmake collects). So a requested bar is drawn on a terminal or in a notebook, and stays
silent in logs and in pytest's captured output.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm import tqdm


def in_notebook() -> bool:
    """Whether stderr is a Jupyter kernel's output stream (this process runs a notebook's cells)."""
    return type(sys.stderr).__module__.startswith("ipykernel")


def progress_bar(show: bool, iterable: Iterable | None = None, **options) -> tqdm:
    """A tqdm bar over ``iterable`` (or advanced by hand: ``total=``): never drawn when ``show`` is
    False; otherwise drawn in a notebook, and on a terminal only elsewhere (tqdm's ``disable=None``)."""
    disable = True if not show else (False if in_notebook() else None)
    return tqdm(iterable, disable=disable, **options)
