"""What every kind of experiment spec shares (``spec.ExperimentSpec``, ``prm_spec.PRMBenchSpec``):
made from its TOML table, whose top-level keys must be the dataclass's fields (one error naming
the unknown ones), written back as a dict, and identified by the sha256 of its content."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from toy_envs.base import check


class SpecRecord:
    @classmethod
    def from_dict(cls, data: dict):
        keys = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(keys))
        check(not unknown, "spec", f"top-level keys among {keys}", unknown)
        return cls(**data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """sha256 of the spec's content (not its text: comments and layout do not count)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()
