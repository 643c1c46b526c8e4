"""Draw an answer onto a frame (for ``m2 stream --save`` and the demo)."""

from __future__ import annotations

import numpy as np

from m2sdk.answer import Answer


def annotate(frame_bgr: np.ndarray, answer: Answer, extra: str = "") -> np.ndarray:
    """A copy of the frame with the question, the answer and its latency drawn in a top banner."""
    import cv2

    out = np.ascontiguousarray(frame_bgr).copy()
    value = f"{answer.value:g} {answer.unit or ''}".strip() if answer.value is not None else answer.choice
    lines = [answer.question[:70], f"A: {value or answer.text[:60]}  ({answer.timings.total_ms:.0f} ms) {extra}"]
    scale = max(out.shape[1] / 900, 0.35)
    height = int(26 * scale * 2 + 10)
    cv2.rectangle(out, (0, 0), (out.shape[1], height), (0, 0, 0), -1)
    for i, line in enumerate(lines):
        y = int((i + 1) * 24 * scale + 2)
        cv2.putText(out, line, (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out
