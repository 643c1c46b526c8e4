"""Pluggable pipeline stages over record lists: teacher chains of thought, answer verification and
difficulty from a policy's pass rate.

A stage is any callable ``stage(records, root) -> records`` (``root``: the dataset folder media paths
are relative to). Stages may edit records in place and may drop records; they log, never raise on
one bad record. The synthesiser runs them in order before it writes ``samples.jsonl``::

    stages = [TeacherCoT(OpenAITeacher("http://127.0.0.1:8000/v1", "qwen2.5-vl-72b")), VerifyAnswers()]
    records = run_stages(records, stages, root)

Verification and pass rates score with :func:`m2sdk.eval.metrics.score_sample`, i.e. the same answer
parser and metrics as the evaluation (MRA for numeric answers, exact match for choices).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from m2sdk.data.dataset import LETTERS, SpatialRecord
from m2sdk.errors import InputError, M2Error

log = logging.getLogger(__name__)

Teacher = Callable[[SpatialRecord, list[Path]], str]
TEACHER_SYSTEM = (
    "You are an expert in spatial reasoning about images and videos of indoor scenes. Reason step by step "
    "about positions, distances and sizes, then finish with a sentence of the form 'So the answer is X.'"
)


class Stage(Protocol):
    def __call__(self, records: list[SpatialRecord], root: Path) -> list[SpatialRecord]: ...


def run_stages(records: list[SpatialRecord], stages: Sequence[Stage], root: str | Path) -> list[SpatialRecord]:
    """Apply ``stages`` in order.

    Example:
        >>> records = run_stages(records, [VerifyAnswers()], "data/synth")
    """
    for stage in stages:
        before = len(records)
        records = stage(records, Path(root))
        log.info("%s: %d -> %d records", type(stage).__name__, before, len(records))
    return records


@dataclass
class TeacherCoT:
    """Replace each record's templated ``cot`` with a teacher model's reasoning.

    Attributes:
        teacher: ``(record, media paths) -> text``, e.g. :class:`OpenAITeacher`.
        failures: Ids of records whose teacher call failed (they keep the templated cot).
    """

    teacher: Teacher
    failures: list[str] = field(default_factory=list)

    def __call__(self, records: list[SpatialRecord], root: Path) -> list[SpatialRecord]:
        for rec in records:
            try:
                text = self.teacher(rec, [root / m for m in rec.media]).strip()
            except (M2Error, OSError) as err:
                log.warning("teacher failed on %s: %s (keeping the templated cot)", rec.id, err)
                self.failures.append(rec.id)
                continue
            if text:
                rec.cot = text
                rec.extra["cot_source"] = "teacher"
        return records


@dataclass
class VerifyAnswers:
    """Drop records whose ``cot`` does not end in the ground-truth answer.

    Attributes:
        min_score: Least score the cot's answer must reach (1.0: exact choice, or a numeric answer
            within 5 % so every MRA threshold passes).
        dropped: Ids of the records dropped.
    """

    min_score: float = 1.0
    dropped: list[str] = field(default_factory=list)

    def __call__(self, records: list[SpatialRecord], root: Path) -> list[SpatialRecord]:
        from m2sdk.eval.metrics import score_sample

        kept = []
        for rec in records:
            if score_sample(rec.to_dict(), rec.cot).score >= self.min_score:
                kept.append(rec)
            else:
                log.info("dropping %s: its cot does not end in the answer %s", rec.id, rec.answer)
                self.dropped.append(rec.id)
        return kept


@dataclass
class DifficultyByPassRate:
    """Set ``difficulty = 1 − pass rate`` of a policy over ``k`` attempts per question.

    The pass rate is the mean score (MRA for numeric answers, so near misses count partly); it is also
    stored as ``extra["pass_rate"]``. Use the model being trained as the policy to order a curriculum.

    Attributes:
        policy: ``record -> answer text`` (sampled, so repeated calls may differ).
        k: Attempts per question.
    """

    policy: Callable[[SpatialRecord], str]
    k: int = 4

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")

    def __call__(self, records: list[SpatialRecord], root: Path) -> list[SpatialRecord]:
        from m2sdk.eval.metrics import score_sample

        for rec in records:
            scores = [score_sample(rec.to_dict(), self.policy(rec)).score for _ in range(self.k)]
            pass_rate = sum(scores) / self.k
            rec.extra["pass_rate"] = round(pass_rate, 4)
            rec.difficulty = round(1.0 - pass_rate, 4)
        return records


@dataclass
class OpenAITeacher:
    """A teacher behind an OpenAI-compatible ``/chat/completions`` endpoint (vLLM, SGLang, OpenAI ...).

    Images are sent inline as base64 data URLs; a video as up to ``video_frames`` evenly spaced frames.
    With ``reveal_answer`` the prompt states the correct answer and asks for the reasoning that leads
    to it (rationale generation); :class:`VerifyAnswers` then drops the ones that end elsewhere.

    Example:
        >>> teacher = OpenAITeacher("http://127.0.0.1:8000/v1", "Qwen2.5-VL-72B-Instruct")
        >>> records = TeacherCoT(teacher)(records, Path("data/synth"))
    """

    url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 120.0
    max_tokens: int = 1024
    temperature: float = 0.2
    reveal_answer: bool = True
    video_frames: int = 4

    def __call__(self, record: SpatialRecord, media: list[Path]) -> str:
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": TEACHER_SYSTEM},
                {
                    "role": "user",
                    "content": [*self._media_parts(record, media), {"type": "text", "text": self.prompt(record)}],
                },
            ],
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        reply = self._post(body)
        try:
            return str(reply["choices"][0]["message"]["content"])
        except (KeyError, IndexError, TypeError):
            raise M2Error(f"teacher at {self.url} sent no choices[0].message.content: {str(reply)[:200]}") from None

    def prompt(self, record: SpatialRecord) -> str:
        lines = [record.question]
        if record.options:
            lines += [f"{LETTERS[i]}. {text}" for i, text in enumerate(record.options)]
        if record.unit:
            lines.append(f"Answer in {record.unit}.")
        if self.reveal_answer:
            answer = f"{record.answer} {record.unit}" if record.unit else str(record.answer)
            lines.append(f"The correct answer is {answer}. Explain step by step how to arrive at it.")
        return "\n".join(lines)

    def _endpoint(self) -> str:
        url = self.url.rstrip("/")
        return url if url.endswith("/chat/completions") else url + "/chat/completions"

    def _post(self, body: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env, "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self._endpoint(), json.dumps(body).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as err:
            raise M2Error(f"teacher at {self._endpoint()} answered HTTP {err.code}: {err.read()[:200]!r}") from err
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as err:
            raise M2Error(f"teacher at {self._endpoint()} failed: {err}") from err

    def _media_parts(self, record: SpatialRecord, media: list[Path]) -> list[dict]:
        images = (
            [_jpeg(p) for p in media] if record.media_type == "image" else _video_jpegs(media[0], self.video_frames)
        )
        return [
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(b).decode()}}
            for b in images
        ]


def _jpeg(path: Path) -> bytes:
    import cv2

    image = cv2.imread(str(path))
    if image is None:
        raise InputError(f"cannot read image {path}")
    return cv2.imencode(".jpg", image)[1].tobytes()


def _video_jpegs(path: Path, n: int) -> list[bytes]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    if not capture.isOpened() or total < 1:
        raise InputError(f"cannot read video {path}")
    frames = []
    for i in range(n):
        capture.set(cv2.CAP_PROP_POS_FRAMES, round(i * (total - 1) / max(n - 1, 1)))
        ok, frame = capture.read()
        if ok:
            frames.append(cv2.imencode(".jpg", frame)[1].tobytes())
    capture.release()
    return frames
