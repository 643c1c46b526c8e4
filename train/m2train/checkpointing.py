"""Atomic, resumable checkpoints that are also ordinary m2sdk checkpoint folders.

``OUTPUT/checkpoint-N`` holds the weights as an m2sdk checkpoint (``config.json``, ``model.safetensors``,
``tokenizer.json``, ``preprocessor_config.json``: :func:`m2sdk.model.checkpoint.load_model`, ``m2 query``
and ``m2 export`` take it as is) plus what resuming needs: ``optimizer.pt``, ``scheduler.pt``,
``rng_state.pth``, ``trainer_state.json`` (step, data position) and ``m2_state.json`` (curriculum
position, KL step and β, the run config).

Atomic: everything is written into a hidden ``.partial-checkpoint-N`` folder, flushed to disk, then
renamed to ``checkpoint-N`` in one ``os.replace``. A run killed mid-save leaves the previous checkpoints
untouched and a partial folder that nothing reads (it is removed on the next save); resume only ever
sees complete checkpoints.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from m2sdk.errors import CheckpointError

logger = logging.getLogger(__name__)

PREFIX = "checkpoint-"
PARTIAL_PREFIX = ".partial-"
STATE_FILE = "m2_state.json"
_STEP_RE = re.compile(rf"^{PREFIX}(\d+)$")


def complete_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete ``checkpoint-N`` folders under ``output_dir``, oldest first."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _STEP_RE.match(p.name) and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: int(_STEP_RE.match(p.name)[1]))


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint in ``output_dir``, or None."""
    found = complete_checkpoints(output_dir)
    return found[-1] if found else None


def resolve_resume(resume: str, output_dir: str | Path) -> str | None:
    """The checkpoint folder to resume from: ``auto`` → latest (or None), ``never`` → None, else the folder."""
    if resume == "never":
        return None
    if resume == "auto":
        latest = latest_checkpoint(output_dir)
        return str(latest) if latest else None
    path = Path(resume)
    if not (path / STATE_FILE).is_file():
        raise CheckpointError(f"checkpoint.resume: {path} is not a complete m2train checkpoint (no {STATE_FILE})")
    return str(path)


def read_state(checkpoint: str | Path) -> dict[str, Any]:
    path = Path(checkpoint) / STATE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} cannot be read: {err}") from err


def fsync_tree(folder: Path) -> None:
    """Flush every file of ``folder`` and the folder itself to disk (before the rename makes it visible)."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(staging: Path, final: Path) -> None:
    """Make ``staging`` visible as ``final`` atomically (an older ``final`` is replaced)."""
    fsync_tree(staging)
    if final.exists():  # a re-save of the same step: move the old one aside, then drop it
        trash = final.with_name(f"{PARTIAL_PREFIX}old-{final.name}")
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(final, trash)
        os.replace(staging, final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(staging, final)
    _fsync_dir(final.parent)


class AtomicCheckpointMixin:
    """Trainer mixin: checkpoints written atomically in the m2sdk folder format, plus ``m2_state.json``.

    The trainer sets ``self.m2_processor`` (the :class:`~m2sdk.processor.M2Processor`) and may override
    :meth:`m2_state` to add its own resume state.
    """

    m2_processor: Any = None

    def m2_state(self) -> dict[str, Any]:
        return {"global_step": self.state.global_step}

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        """Weights + tokenizer + processor settings, through m2sdk's own ``save_checkpoint``."""
        from m2sdk.model.checkpoint import save_checkpoint

        if not self.args.should_save:  # only the writer rank writes files
            return
        output_dir = output_dir or self.args.output_dir
        model = self.accelerator.unwrap_model(self.model)
        if state_dict is None:
            save_checkpoint(model, self.m2_processor, output_dir)
        else:  # gathered from DeepSpeed ZeRO-3 / FSDP shards by Trainer.save_model
            Path(output_dir).mkdir(parents=True, exist_ok=True)
            model.save_pretrained(output_dir, state_dict=state_dict)
            self.m2_processor.save(output_dir)

    def _save_checkpoint(self, model, trial) -> None:
        """Trainer's checkpoint contents, staged then published in one rename (see the module doc)."""
        run_dir = Path(self._get_output_dir(trial=trial))
        final = run_dir / f"{PREFIX}{self.state.global_step}"
        staging = run_dir / f"{PARTIAL_PREFIX}{final.name}"
        if self.args.should_save:
            _remove_partials(run_dir)
        self.store_flos()
        self.accelerator.wait_for_everyone()
        self.save_model(str(staging), _internal_call=True)
        if not self.args.save_only_model:
            self._save_optimizer_and_scheduler(str(staging))
            self._save_scaler(str(staging))
            self._save_rng_state(str(staging))
        if self.args.should_save:
            self._save_trainer_state(staging)
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            publish(staging, final)
            self._rotate(run_dir)
        self.accelerator.wait_for_everyone()

    def _save_trainer_state(self, folder: Path) -> None:
        from transformers.trainer_callback import ExportableState

        for cb in [c for c in [*self.callback_handler.callbacks, self.control] if isinstance(c, ExportableState)]:
            self.state.stateful_callbacks[cb.__class__.__name__] = cb.state()
        self.state.save_to_json(str(folder / "trainer_state.json"))
        state = {"global_step": self.state.global_step, **self.m2_state()}
        (folder / STATE_FILE).write_text(json.dumps(state, indent=2, default=str) + "\n", encoding="utf-8")

    def _rotate(self, run_dir: Path) -> None:
        limit = self.args.save_total_limit
        if not limit:
            return
        for old in complete_checkpoints(run_dir)[:-limit]:
            trash = old.with_name(f"{PARTIAL_PREFIX}old-{old.name}")
            os.replace(old, trash)  # hidden first: a kill mid-delete must not leave a half checkpoint visible
            shutil.rmtree(trash, ignore_errors=True)
            logger.info("removed old checkpoint %s (save_total_limit=%d)", old, limit)


def _remove_partials(run_dir: Path) -> None:
    for stale in run_dir.glob(f"{PARTIAL_PREFIX}*"):
        logger.warning("removing %s left by an interrupted save", stale)
        shutil.rmtree(stale, ignore_errors=True)
