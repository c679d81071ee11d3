"""The tutorials run as tests through nbmake (``pytest --nbmake tutorials``): each is marked
``notebook`` and ``slow`` (minutes of training in full mode, seconds to tens of seconds in fast
mode), so that ``pytest -m "not slow and not gpu"`` leaves them out."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)
            item.add_marker(pytest.mark.slow)
