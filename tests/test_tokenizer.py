import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.model.tokenizer import ALPHABET, CharTokenizer

tok = CharTokenizer()


@given(st.text(alphabet=ALPHABET, max_size=200))
def test_round_trip(text):
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode(tok.encode(text, bos=True, eos=True)) == text


@given(st.text(alphabet=ALPHABET, max_size=50))
def test_one_token_per_character(text):
    assert len(tok.encode(text)) == len(text)


def test_ids_are_distinct_and_in_range():
    ids = tok.encode(ALPHABET)
    assert len(set(ids)) == len(ALPHABET)
    assert min(ids) == len(tok.specials) and max(ids) == tok.vocab_size - 1
    assert {tok.pad_id, tok.bos_id, tok.eos_id, tok.sep_id} == set(range(4))


@pytest.mark.parametrize("bad", ["é", "\t", "a\x00b", "日本"])
def test_character_outside_alphabet_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="not in the tokenizer's alphabet"):
        tok.encode(bad)


def test_decode_stops_at_eos_and_drops_specials():
    ids = [tok.bos_id, *tok.encode("12"), tok.pad_id, tok.eos_id, *tok.encode("x")]
    assert tok.decode(ids) == "12"
    assert tok.decode(ids, stop_at_eos=False) == "12x"
