"""What SFT and RL runs share: loading the policy, TrainingArguments from the config, resume, final save."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from m2train.checkpointing import resolve_resume
from m2train.config import SFTRunConfig
from m2train.logs import logging_callbacks

logger = logging.getLogger(__name__)

FINAL_DIR = "final"


def torch_dtype(name: str) -> Any:
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def set_cpu_threads(config: SFTRunConfig) -> None:
    """Apply ``cpu_threads`` when training on CPU (on a busy 2-core machine, 2 OpenMP threads made an m2-tiny
    step ~15x slower than 1: they spin against other processes)."""
    import torch

    if config.cpu_threads and not torch.cuda.is_available():
        torch.set_num_threads(config.cpu_threads)


def load_policy(config: SFTRunConfig) -> tuple[Any, Any]:
    """(model in train mode, M2Processor) from ``model.init``; the ViT and/or projector frozen when asked."""
    from m2sdk.model.checkpoint import load_model

    set_cpu_threads(config)

    model, processor = load_model(config.model.init, dtype=torch_dtype(config.model.dtype))
    model.train()
    if config.model.freeze_vision:
        model.model.visual.requires_grad_(False)
        logger.info("vision tower frozen: %d parameters fixed", sum(p.numel() for p in model.model.visual.parameters()))
    if config.model.freeze_projector:
        model.model.linear_proj.requires_grad_(False)
        logger.info(
            "projector frozen: %d parameters fixed", sum(p.numel() for p in model.model.linear_proj.parameters())
        )
    return model, processor


def training_kwargs(config: SFTRunConfig) -> dict[str, Any]:
    """``TrainingArguments`` fields common to both trainers (no network reporting, m2 checkpoint cadence)."""
    optim = config.optim
    return {
        "output_dir": config.output_dir,
        "seed": config.seed,
        "learning_rate": optim.learning_rate,
        "weight_decay": optim.weight_decay,
        "adam_epsilon": optim.adam_epsilon,
        "warmup_steps": optim.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps
        "lr_scheduler_type": optim.lr_scheduler,
        "per_device_train_batch_size": optim.per_device_batch_size,
        "gradient_accumulation_steps": optim.gradient_accumulation_steps,
        "max_steps": optim.max_steps,
        "num_train_epochs": optim.num_epochs,
        "max_grad_norm": optim.max_grad_norm,
        "bf16": config.model.dtype == "bfloat16",
        "fp16": config.model.dtype == "float16",
        "activation_checkpointing": config.model.gradient_checkpointing,
        "logging_steps": config.logging.every_steps,
        "logging_first_step": True,
        "save_strategy": "steps",
        "save_steps": config.checkpoint.save_steps,
        "save_total_limit": config.checkpoint.save_total_limit,
        "report_to": "none",  # TensorBoard/JSONL callbacks are added explicitly (logs.py)
        "disable_tqdm": not config.logging.progress_bar,
        "remove_unused_columns": False,
        "dataloader_num_workers": 0,
        "deepspeed": config.distributed.deepspeed,
    }


def check_single_process(trainer: Any, config: SFTRunConfig) -> None:
    """Refuse options that call parts of the model outside its wrapper under a sharded or DDP engine.

    ``model.shared_prefix`` and ``vision_code`` run the vision tower and the language model as separate
    calls; DeepSpeed ZeRO gathers parameters per submodule and handles that, but DDP and FSDP prepare
    their gradient reduction / parameter gathering in the wrapped model's own forward.
    """
    from m2sdk.errors import InputError

    uses_parts = config.model.shared_prefix or (config.vision_code is not None and config.vision_code.weight > 0)
    state = trainer.accelerator.state
    sharded_by_deepspeed = getattr(state, "deepspeed_plugin", None) is not None
    if uses_parts and trainer.accelerator.num_processes > 1 and not sharded_by_deepspeed:
        raise InputError(
            "model.shared_prefix and vision_code need a single process or DeepSpeed; under DDP/FSDP turn them off "
            "(shared_prefix: false, vision_code: null)"
        )


def callbacks_for(config: SFTRunConfig) -> list[Any]:
    return logging_callbacks(config.output_dir, tensorboard=config.logging.tensorboard, jsonl=config.logging.jsonl)


def run_config_dict(config: SFTRunConfig) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def train_and_save(trainer: Any, config: SFTRunConfig) -> Path:
    """Train (resuming per ``checkpoint.resume``), then write ``OUTPUT/final``: a plain m2sdk checkpoint."""
    resume = resolve_resume(config.checkpoint.resume, config.output_dir)
    if resume:
        logger.info("resuming from %s", resume)
    trainer.train(resume_from_checkpoint=resume)
    final = Path(config.output_dir) / FINAL_DIR
    trainer.save_model(str(final))
    if trainer.args.should_save:
        (final / "m2_run.json").write_text(json.dumps(run_config_dict(config), indent=2) + "\n", encoding="utf-8")
        logger.info("final checkpoint: %s (load it with m2sdk.model.checkpoint.load_model)", final)
    return final
