"""Host-side embedding step of exported bundles: token lookup, then visual features into patch slots.

This is the middle of the three-stage split (vision encoder → embedding → decoder, see
../shared/reference/edge_export.md). It is a table lookup plus a scatter, so it runs in numpy on the
host instead of as a graph: no extra session, and the table can be memory-mapped from the bundle.
"""

from __future__ import annotations

import numpy as np

from m2sdk.errors import InputError


def embed_prompt(
    table: np.ndarray, input_ids: np.ndarray, patch_token_id: int, features: np.ndarray | None
) -> np.ndarray:
    """(S, hidden) float32 embeddings of a prompt with the visual features in its patch slots.

    Args:
        table: (vocab, hidden) token-embedding table (float16 or float32; may be memory-mapped).
        input_ids: (S,) token ids.
        patch_token_id: Id of ``<imagePatch>``, the slot of one visual token (images and videos).
        features: (n_patch_tokens, hidden) visual features in prompt order, or None for text only.

    Example:
        >>> embeds = embed_prompt(table, inputs.input_ids, 9, features)
    """
    ids = np.asarray(input_ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= table.shape[0]):
        raise InputError(f"token ids must be in [0, {table.shape[0]}), got [{ids.min()}, {ids.max()}]")
    embeds = np.asarray(table[ids], dtype=np.float32)  # (S, hidden)
    slots = ids == patch_token_id
    n_slots = int(slots.sum())
    n_features = 0 if features is None else int(features.shape[0])
    if n_slots != n_features:
        raise InputError(
            f"the prompt has {n_slots} <imagePatch> tokens but the vision encoder gave {n_features} "
            "features; build inputs with the bundle's processor"
        )
    if n_slots:
        embeds[slots] = features
    return embeds
