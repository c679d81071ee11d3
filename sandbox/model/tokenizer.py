"""Character tokenizer: printable ASCII plus newline, and a few special tokens.

One character is one token, so character offsets in a response are token offsets: a task's
step spans map to token positions without any alignment tables. The alphabet is wide enough
for judges' verification text, confidence lines and other tasks.

    ids 0..3   <pad> <bos> <eos> <sep>
    ids 4..    '\\n', then ' ' .. '~' (ASCII 32..126)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<sep>")
ALPHABET = "\n" + "".join(chr(c) for c in range(32, 127))


class CharTokenizer:
    """Maps text to ids and back; encode/decode round-trip exactly on the alphabet."""

    pad_id = 0
    bos_id = 1
    eos_id = 2
    sep_id = 3

    def __init__(self) -> None:
        self.specials = SPECIAL_TOKENS
        self.alphabet = ALPHABET
        self._offset = len(SPECIAL_TOKENS)
        self._char_to_id = {c: i + self._offset for i, c in enumerate(ALPHABET)}

    @property
    def vocab_size(self) -> int:
        return self._offset + len(self.alphabet)

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        """Ids of ``text``; a character outside the alphabet raises ``ValueError`` naming it."""
        try:
            ids = [self._char_to_id[c] for c in text]
        except KeyError as err:
            position = next(i for i, c in enumerate(text) if c not in self._char_to_id)
            raise ValueError(
                f"text[{position}]={err.args[0]!r} is not in the tokenizer's alphabet: "
                "allowed are newline and printable ASCII (space to '~')"
            ) from None
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids: Sequence[int] | torch.Tensor, stop_at_eos: bool = True) -> str:
        """Text of ``ids``; special tokens are dropped, and decoding stops at ``<eos>``."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        chars = []
        for i in ids:
            if i == self.eos_id and stop_at_eos:
                break
            if i >= self._offset:
                chars.append(self.alphabet[i - self._offset])
            elif not 0 <= i < self.vocab_size:
                raise ValueError(f"token id {i} is outside the vocabulary [0, {self.vocab_size})")
        return "".join(chars)

    def char_counts(self, ids: Sequence[int]) -> list[int]:
        """Characters each token adds to the decoded text: 1 for a character, 0 for a special token."""
        return [int(i >= self._offset) for i in ids]
