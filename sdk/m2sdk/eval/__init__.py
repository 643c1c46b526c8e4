"""Evaluation metrics and RL rewards, all built on the one answer parser (:mod:`m2sdk.answer_parser`).

Example:
    >>> import m2sdk.eval
    >>> m2sdk.eval.mean_relative_accuracy(2.0, 2.5)
    0.7
"""

from __future__ import annotations

from m2sdk.eval.compare import (
    Difference,
    mean_of_tasks_difference,
    paired_difference,
    scores_by_task,
    task_differences,
)
from m2sdk.eval.metrics import (
    BOUNDARY_TOLERANCE,
    VSI_THRESHOLDS,
    CVBenchOverall,
    NumericReading,
    Report,
    SampleScore,
    TaskScore,
    aggregate,
    cvbench_overall,
    exact_match,
    mean_relative_accuracy,
    read_numeric,
    relative_error,
    score_sample,
    vsi_numeric_prediction,
    vsi_overall,
    weighted_accuracy,
)
from m2sdk.eval.rewards import (
    DEFAULT_EDNM_DECAY,
    choice_reward,
    completion_text,
    ednm_from_text,
    ednm_reward,
    format_reward,
    numeric_reward,
)

__all__ = [
    "BOUNDARY_TOLERANCE",
    "DEFAULT_EDNM_DECAY",
    "VSI_THRESHOLDS",
    "CVBenchOverall",
    "Difference",
    "NumericReading",
    "Report",
    "SampleScore",
    "TaskScore",
    "aggregate",
    "choice_reward",
    "completion_text",
    "cvbench_overall",
    "ednm_from_text",
    "ednm_reward",
    "exact_match",
    "format_reward",
    "mean_of_tasks_difference",
    "mean_relative_accuracy",
    "numeric_reward",
    "paired_difference",
    "read_numeric",
    "relative_error",
    "score_sample",
    "scores_by_task",
    "task_differences",
    "vsi_numeric_prediction",
    "vsi_overall",
    "weighted_accuracy",
]
