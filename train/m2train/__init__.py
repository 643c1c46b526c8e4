"""m2train: cold-start SFT and RLVR (GRPO) for M2-Reasoning, on Hugging Face TRL + Accelerate.

Nothing here runs its own distributed engine: scaling is ``accelerate launch`` with the DeepSpeed
ZeRO-3 or FSDP2 config files under ``train/configs/``. What M2 adds on top of TRL lives in small modules:
task-routed rewards (:mod:`m2train.rewards`), curriculum sampling (:mod:`m2train.curriculum`), dynamic
sample weights (:mod:`m2train.weights`), the cosine KL schedule (:mod:`m2train.kl`), atomic resumable
checkpoints (:mod:`m2train.checkpointing`) and fault checks (:mod:`m2train.faults`).

Importing this package is light; torch, transformers and TRL load when a trainer is built.

Example:
    >>> from m2train.config import load_config
    >>> from m2train.sft import run_sft
    >>> run_sft(load_config("train/configs/sft_tiny.yaml", "sft"))
"""

from __future__ import annotations
