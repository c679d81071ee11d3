"""Where a response's answer line starts: the split between reasoning and answer that DRO's
reflection (``dro_r3``), its length term (``dro_length``) and the rubric's step count
(``rubric_checks``) share. Reads only the task's segmentation (``task.segment``), never the verifier."""

from __future__ import annotations


def answer_line_start(task, text: str) -> int:
    """Character offset where ``text``'s answer line starts (``len(text)`` without one)."""
    steps = task.segment(text)
    if steps and steps[-1].kind == "answer":
        return steps[-1].start
    return len(text)
