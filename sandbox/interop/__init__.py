"""Adapters that take sandbox rewards and tasks to other trainers.

    sandbox.interop.trl        sequence-level variants as TRL ``reward_funcs``, tasks as TRL datasets
    sandbox.interop.verl       ``compute_score`` for the tasks, estimators in verl's calling convention
    sandbox.interop.tokenizer  the character tokenizer as a ``transformers`` fast tokenizer

Each module imports its trainer's package only where it needs it, so importing an adapter never
requires TRL or verl.
"""
