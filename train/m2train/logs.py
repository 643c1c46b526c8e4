"""Run logging without a network: TensorBoard event files and JSONL files under ``OUTPUT/logs``.

``logs/metrics.jsonl`` gets one line per logging step with everything the trainer logs: the loss, the
learning rate, each reward component (``rewards/ednm/mean`` ...), β(t) (``kl/beta``), the curriculum
stage and window, sample-weight statistics (``weights/...``) and TRL's own metrics (KL, entropy,
completion lengths). ``logs/completions.jsonl`` holds sample completions with their rewards. TensorBoard
reads ``logs/tensorboard``: ``tensorboard --logdir OUTPUT/logs/tensorboard``. The progress bar is the
Trainer's own (tqdm).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

METRICS_FILE = "metrics.jsonl"
COMPLETIONS_FILE = "completions.jsonl"


def logs_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "logs"


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line (non-finite floats become null, so every line is valid JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(_clean(record), ensure_ascii=False) + "\n")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All records of a JSONL log (for tests, benchmarks and reports)."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def truncate_after(path: Path, step: int) -> None:
    """Drop log lines of steps after ``step``: a resumed run redoes them, so the log matches the weights."""
    if not path.is_file():
        return
    kept = [r for r in read_jsonl(path) if int(r.get("step", 0)) <= step]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
    tmp.replace(path)


class JsonlMetricsCallback(TrainerCallback):
    """Writes each ``Trainer.log`` call as a line of ``logs/metrics.jsonl`` (main process only).

    On (re)start the lines of steps after the resumed step are dropped from the metrics and completions logs.
    """

    def __init__(self, output_dir: str | Path) -> None:
        self.path = logs_dir(output_dir) / METRICS_FILE

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            for name in (METRICS_FILE, COMPLETIONS_FILE):
                truncate_after(self.path.parent / name, state.global_step)
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            append_jsonl(self.path, {"step": state.global_step, **logs})
        return control


def tensorboard_callback(output_dir: str | Path) -> TrainerCallback:
    """transformers' TensorBoard callback writing to ``logs/tensorboard`` (needs the ``tensorboard`` package)."""
    from m2sdk._deps import require

    require("tensorboard")
    from torch.utils.tensorboard import SummaryWriter
    from transformers.integrations import TensorBoardCallback

    class _TensorBoard(TensorBoardCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            # a reward component absent from a batch logs None; TensorBoard takes numbers only
            logs = {k: v for k, v in (logs or {}).items() if v is not None}
            return super().on_log(args, state, control, logs=logs, **kwargs)

    return _TensorBoard(tb_writer=SummaryWriter(log_dir=str(logs_dir(output_dir) / "tensorboard")))


def logging_callbacks(output_dir: str | Path, *, tensorboard: bool, jsonl: bool) -> list[TrainerCallback]:
    """The callbacks a run's ``logging`` section asks for."""
    callbacks: list[TrainerCallback] = []
    if jsonl:
        callbacks.append(JsonlMetricsCallback(output_dir))
    if tensorboard:
        callbacks.append(tensorboard_callback(output_dir))
    return callbacks
