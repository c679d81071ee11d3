"""The sandbox's character tokenizer as a ``transformers.PreTrainedTokenizerFast``.

Same ids as ``sandbox.model.tokenizer.CharTokenizer``: ``<pad> <bos> <eos> <sep>`` are 0..3 and
each character of the alphabet (newline, then printable ASCII) is one token from 4 on. It is a
byte-pair model with no merges and no pre-tokenizer, so every character is its own token, and a
``Fuse`` decoder, so decoding concatenates. Encoding with special tokens prepends ``<bos>`` like
the sandbox's prompts. Two differences from ``CharTokenizer``: a character outside the alphabet is
dropped instead of raising, and the literal strings ``<pad>``, ``<bos>``, ``<eos>``, ``<sep>``
in a text encode to the special token rather than to their characters.

Use it to train a sandbox model exported with ``sandbox.model.hf.export_hf`` (or a fresh
``LlamaForCausalLM`` with ``vocab_size = CharTokenizer().vocab_size``) in TRL or verl.
"""

from __future__ import annotations

from sandbox.model.tokenizer import ALPHABET, SPECIAL_TOKENS


def char_tokenizer_fast():
    """A ``PreTrainedTokenizerFast`` with the character tokenizer's vocabulary and ids."""
    from tokenizers import Tokenizer, decoders, models, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate((*SPECIAL_TOKENS, *ALPHABET))}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    tokenizer.decoder = decoders.Fuse()
    bos = SPECIAL_TOKENS[1]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, vocab[bos])]
    )
    pad, _, eos, sep = SPECIAL_TOKENS
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token=pad, bos_token=bos, eos_token=eos, sep_token=sep, padding_side="left"
    )
