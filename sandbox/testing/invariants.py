"""What the invariant checks share: the error they raise, how they run hypothesis, how they print.

Every ``check_*`` function of the kit runs one hypothesis property (``@given`` over a bounded
strategy, no deadline, no example database, one bug reported) whose body tests each invariant
in turn. A violated invariant raises ``InvariantError``: an ``AssertionError`` whose message
names the invariant, says what it demands and shows the counterexample as a small table. Since
hypothesis shrinks a failing example and re-raises the error of the *shrunk* run, the error a
user sees carries the smallest counterexample hypothesis found; ``error.example`` holds it as
data (tensors) for further inspection or plotting.

The error is raised from the ``check_*`` call itself: the kit's and hypothesis' frames are cut
from its traceback (and marked ``__tracebackhide__`` for pytest) and hypothesis' own dump of the
drawn example is dropped, since the table shows the batch that failed (which an invariant may
have derived from the drawn one). An exception the piece itself raises keeps the piece's frames.

Shrinking costs time: hypothesis re-runs the property a few hundred to a few thousand times
(seconds, up to a minute for a slow piece). ``shrink=False`` skips it and reports the first
failing example as drawn (larger, found as fast as the property runs).
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Callable

import hypothesis
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import FlakyFailure


class InvariantError(AssertionError):
    """One invariant failed on one (shrunk) example."""

    def __init__(self, invariant: str, demand: str, detail: str, example: Any):
        self.invariant = invariant
        """Short name of the invariant, e.g. ``"zero off the mask"``."""
        self.demand = demand
        """What the invariant requires, in one sentence."""
        self.example = example
        """The counterexample: the inputs, and the outputs the check compared."""
        super().__init__(f"invariant {invariant!r} failed: {demand}\n{detail}")


def kit_settings(max_examples: int | None, derandomize: bool | None, shrink: bool = True) -> settings:
    """The active hypothesis profile with the kit's overrides: no deadline, no database, one bug
    reported (so the error is an ``InvariantError``, not an exception group), no "explain" phase
    (the error explains itself), and the shrink phase only when ``shrink``."""
    skipped = {Phase.explain} | (set() if shrink else {Phase.shrink})
    overrides: dict[str, Any] = {
        "phases": [phase for phase in Phase if phase not in skipped],
        "deadline": None,
        "database": None,
        "report_multiple_bugs": False,
        "print_blob": False,
        "suppress_health_check": [
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    }
    if max_examples is not None:
        overrides["max_examples"] = max_examples
    if derandomize is not None:
        overrides["derandomize"] = derandomize
    return settings(settings.default, **overrides)


def run_property(
    strategy, body: Callable[[Any], None], max_examples: int | None, derandomize: bool | None, shrink: bool = True
) -> None:
    """Run ``body`` on examples of ``strategy`` under ``kit_settings``; re-raise the (shrunk)
    failure without the kit's frames or hypothesis' dump (``concise``)."""
    __tracebackhide__ = True

    @kit_settings(max_examples, derandomize, shrink)
    @given(strategy)
    def property_(case):
        body(case)

    try:
        property_()
    except FlakyFailure as flaky:
        error = first_invariant_error(flaky)
    except Exception as failed:
        error = failed
    else:
        return
    raise concise(error) from error.__cause__


HIDDEN = (str(Path(__file__).resolve().parent), str(Path(hypothesis.__file__).resolve().parent))
"""Source folders whose frames a failure's traceback leaves out: the kit's and hypothesis'."""


def concise(error: BaseException) -> BaseException:
    """``error`` without hypothesis' notes (its dump of the drawn example) and with the kit's and
    hypothesis' frames cut from its traceback and its cause's: an ``InvariantError`` then has no
    frames of its own (the message says it all), a piece's own exception keeps the piece's."""
    for each in (error, error.__cause__):
        if each is None:
            continue
        if hasattr(each, "__notes__"):
            del each.__notes__
        each.with_traceback(outside_kit(each.__traceback__))
    return error


def outside_kit(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback ``tb`` without frames from ``HIDDEN`` folders."""
    frames = []
    while tb is not None:
        if not str(Path(tb.tb_frame.f_code.co_filename).resolve()).startswith(HIDDEN):
            frames.append(tb)
        tb = tb.tb_next
    kept = None
    for frame in reversed(frames):
        kept = types.TracebackType(kept, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return kept


def first_invariant_error(group: BaseExceptionGroup) -> BaseException:
    """The first ``InvariantError`` in a (nested) exception group, else the group itself.

    Hypothesis reports a failure that does not recur on replay (a piece that is not
    deterministic) as a ``FlakyFailure`` group; the kit raises the invariant's error instead."""
    for error in group.exceptions:
        if isinstance(error, InvariantError):
            return error
        if isinstance(error, BaseExceptionGroup):
            found = first_invariant_error(error)
            if isinstance(found, InvariantError):
                return found
    return group


def fmt(value: float) -> str:
    """A compact number: integers without a point, others to 4 significant digits."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}"


def render_rows(row_labels: list[str], mask: torch.Tensor, columns: dict[str, torch.Tensor]) -> str:
    """One line per row and column: its values left to right, entries off ``mask`` in parentheses.

    ``columns`` maps a name (e.g. ``"rewards"``) to a [B, T] tensor, or to a [B] tensor of one
    value per row."""
    lines = []
    for b, label in enumerate(row_labels):
        for name, values in columns.items():
            if values.dim() == 1:
                text = fmt(float(values[b]))
            else:
                text = " ".join(
                    fmt(float(v)) if bool(m) else f"({fmt(float(v))})" for v, m in zip(values[b], mask[b])
                )
            lines.append(f"  {label:<26} {name:<17} {text}")
    return "\n".join(lines)
