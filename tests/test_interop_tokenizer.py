"""The character tokenizer as a transformers fast tokenizer: the same ids as the sandbox's."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.model.tokenizer import ALPHABET, SPECIAL_TOKENS, CharTokenizer

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from sandbox.interop.tokenizer import char_tokenizer_fast  # noqa: E402

FAST = char_tokenizer_fast()
SANDBOX = CharTokenizer()
alphabet_text = st.text(alphabet=ALPHABET, max_size=80)


@given(alphabet_text)
def test_ids_match_the_character_tokenizer(text):
    assert FAST(text, add_special_tokens=False)["input_ids"] == SANDBOX.encode(text)
    assert FAST(text)["input_ids"] == SANDBOX.encode(text, bos=True)


@given(alphabet_text)
def test_decoding_round_trips_and_drops_special_tokens(text):
    ids = SANDBOX.encode(text, bos=True, eos=True)
    assert FAST.decode(ids, skip_special_tokens=True) == text == SANDBOX.decode(ids)


def test_special_tokens_and_vocabulary():
    assert len(FAST) == SANDBOX.vocab_size
    assert (FAST.pad_token_id, FAST.bos_token_id, FAST.eos_token_id, FAST.sep_token_id) == (
        SANDBOX.pad_id,
        SANDBOX.bos_id,
        SANDBOX.eos_id,
        SANDBOX.sep_id,
    )
    assert FAST.convert_ids_to_tokens(list(range(len(SPECIAL_TOKENS)))) == list(SPECIAL_TOKENS)


def test_characters_outside_the_alphabet_are_dropped():
    assert FAST("3é+4", add_special_tokens=False)["input_ids"] == SANDBOX.encode("3+4")
