"""Errors that stop a run with one line saying what and where (the CLI prints them without a traceback).

A bad config value is a ``toy_envs.base.ConfigError`` (raised before any compute or side effect);
these are what can only be found while a run goes on or when it reads its files back:

* ``NonFiniteError``  a NaN or infinite reward, advantage, loss or gradient norm: the message names
  the variant, the piece (source, estimator, loss) and the step; no checkpoint of that state is written.
* ``DamagedFileError`` a checkpoint, ``state.json``, ``config.json`` or ``metrics.jsonl`` that is
  missing, truncated or fails its checksum: the message names the file.
* ``RunError``        anything else that ends a run early (e.g. refills that run out of draws).
"""


class RunError(RuntimeError):
    """A run cannot go on; the message is one line naming what and where."""


class NonFiniteError(RunError, ValueError):
    """A NaN or infinite value in a reward, advantage, loss or gradient norm."""


class DamagedFileError(RunError):
    """A file of a run or checkpoint is missing, truncated or fails its checksum."""


def require_finite(value, where: str, what: str) -> float | None:
    """Raise ``NonFiniteError`` -- "{where}: {what} is nan; ..." -- unless every element of
    ``value`` (a tensor or a number) is finite; ``where`` names the variant (or loop) and step,
    ``what`` the piece. Returns a number or one-element tensor as a float."""
    import math

    import torch

    stop = "stopped without a checkpoint of this step"
    if isinstance(value, torch.Tensor) and value.numel() != 1:
        bad = int((~torch.isfinite(value.detach())).sum())
        if bad:
            raise NonFiniteError(f"{where}: {what} has {bad} non-finite values (NaN or inf) of {value.numel()}; {stop}")
        return None
    number = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
    if not math.isfinite(number):
        raise NonFiniteError(f"{where}: {what} is {number}; {stop}")
    return number
