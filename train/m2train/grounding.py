"""Attention grounding: supervise where the decoder looks, from the dense labels.

A decoder trained from random weights (m2-mini) learns very slowly to find the object a question names
among the vision tokens: the answer loss rewards the lookup only once the read after it is right, so
most of what it learns early is the text prior (docs/m2_mini.md). The dense labels say exactly which
cells show each object the question is about (``scene["targets"]``, in the order the question names
them), so SFT can teach the lookup directly. Heads of one decoder layer are asked to put their
attention on the cells of an object, either

* ``at="mentions"``: at every token of a phrase that names it ("how far is the *white cabinet*"; for a
  count, the category: "how many *chairs*"), which is phrase grounding: the looked-up object is then
  stored at its mention, where the answer can fetch it; or
* ``at="answer"``: at every answer position, head ``g`` on the question's ``g``-th object,

with the loss

    L_ground = mean over planned looks (sample, head, position) of −log Σ_{cells of the object} a

where ``a`` is that head's attention distribution over all keys. A count question's objects form one
group (a mention of "chairs" looks at every chair). Softmax attention averages what it looks at, so a
look at every chair says what chairs are there but not how many: with ``count="instances"`` a count's
looks (at its mentions or its answer) instead *spread* their attention evenly over one cell per counted
object (the centre cell the vision code marks) and the prompt's first token, a sink whose value is the
same in every prompt,

    L_spread = −mean over those n + 1 keys of log a,

so the share left on the sink, 1/(n + 1), carries the count into the looking position's hidden state.
(On m2-mini these looks did not form well enough to count: docs/m2_mini.md.)
Samples without labels, and objects out of view, are left unsupervised. The supervised layer's weights
are recomputed from its queries and keys (:class:`AttentionCapture`), so the model keeps its fast
attention kernels.

Example:
    >>> capture = AttentionCapture(model, layer=0)
    >>> with capture:
    ...     outputs = model(**batch)
    >>> weights = capture.probabilities(batch["attention_mask"])
    >>> plan, cells = batch["grounding_plan"], batch["grounding_targets"]
    >>> loss = grounding_loss(weights, plan, batch["input_ids"], image_id, cells)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from m2sdk.data.question_base import plural
from m2sdk.errors import InputError

MAX_GROUPS = 6  # looks one question supervises at most: relative direction names three objects, and a count
# answered colour by colour (data.count_listing: colours) needs one per object of a 5-object room + the category
# Targets have 2 * MAX_GROUPS columns: column g holds every cell of group g, column g + SPREAD one cell per
# object of it; a plan entry is the column a look is at, so g + SPREAD is a spread look at group g.
SPREAD = MAX_GROUPS
SINK = 0  # the key a spread look leaves 1/(n + 1) of its attention on: the prompt's first token
GROUPED_TASKS = frozenset({"object_count"})  # every target is an instance of the one thing asked about
_EPS = 1e-6


def ordered_targets(record: Any) -> list[str]:
    """The objects the question names, in the order of the looks: those that are answer options last, in
    the options' letter order, so that an answer look of head g (``at="answer"``) at an option is the
    option's letter ("closest to the *red bin*: A. green bed, B. ...": red bin, green bed, ...).

    Example:
        >>> from types import SimpleNamespace as R
        >>> ordered_targets(R(scene={"targets": ["bin", "bed", "pot"]}, options=["pot", "bed"]))
        ['bin', 'pot', 'bed']
    """
    targets = list((record.scene or {}).get("targets") or [])
    options = [o for o in (record.options or []) if o in targets]
    return [t for t in targets if t not in options] + options


def target_groups(task: str, targets: list[str]) -> list[list[str]]:
    """The objects of each target group (what one look is at), in the order the question names them.

    Example:
        >>> target_groups("relative_distance", ["red chair", "blue bin"])
        [['red chair'], ['blue bin']]
        >>> target_groups("object_count", ["red chair", "blue chair"])
        [['red chair', 'blue chair']]
    """
    if not targets:
        return []
    return [list(targets)] if task in GROUPED_TASKS else [[name] for name in targets]


def group_cells(
    record: Any, root: str | Path, image_hw: tuple[int, int], cell_px: int, groups: list[list[str]],
    one_per_object: bool = False,
) -> np.ndarray:  # fmt: skip
    """(cells, len(groups)) float32: 1 on the cells that show an object of group g (none without labels);
    with ``one_per_object`` only on each object's centre cell (what a spread look counts)."""
    from m2sdk.data.labels import object_cells

    rows, cols = image_hw[0] // cell_px, image_hw[1] // cell_px
    out = np.zeros((rows * cols, len(groups)), np.float32)
    scene = record.scene or {}
    if not groups or not (scene.get("labels") or {}).get("instances"):
        return out
    names = sorted({name for group in groups for name in group})
    cells = object_cells(scene, root, image_hw, cell_px, names, one_per_object=one_per_object)
    for g, group in enumerate(groups):
        out[:, g] = cells[:, [names.index(n) for n in group]].any(axis=1)
    return out


def listing_groups(
    record: Any, listed: list[dict[str, Any]], by_colour: bool = False
) -> tuple[list[list[str]], list[list[str]]]:
    """Groups and mention phrases of a count whose answer goes through the objects: one group per listed
    object (``by_colour``: per object of the room, whatever its category; the first MAX_GROUPS - 1), named
    by its colour word, then the whole category, named as in :func:`mention_phrases`. So a colour word
    looks at the object of that colour, and every category word, in the question and in the answer, at
    all the counted ones. A colour no object in view has is not supervised.

    Example:
        >>> from types import SimpleNamespace as R
        >>> chairs = [{"name": "red chair", "category": "chair", "colour": "red"},
        ...           {"name": "blue chair", "category": "chair", "colour": "blue"}]
        >>> listing_groups(R(task="object_count", scene={"objects": chairs}), chairs)
        ([['red chair'], ['blue chair'], ['red chair', 'blue chair']], [['red'], ['blue'], ['chairs', 'chair']])
    """
    room = [o for o in (record.scene or {}).get("objects", []) if o.get("colour")]
    items = (room if by_colour else listed)[: MAX_GROUPS - 1]
    category = [[o["name"] for o in listed]]
    groups = [[o["name"]] for o in items] + category
    return groups, [[o["colour"]] for o in items] + mention_phrases(record, category)


def mention_phrases(record: Any, groups: list[list[str]]) -> list[list[str]]:
    """How the text names each group: the object's name, or for a count the category (plural and singular)."""
    if record.task not in GROUPED_TASKS:
        return [list(group) for group in groups]
    objects = {o.get("name"): o for o in (record.scene or {}).get("objects", [])}
    phrases = []
    for group in groups:
        categories = {objects[n]["category"] for n in group if n in objects and objects[n].get("category")}
        phrases.append(sorted({form for c in categories for form in (plural(c), c)}, key=len, reverse=True))
    return phrases


def look_plan(
    input_ids: np.ndarray, labels: np.ndarray, groups: int, heads: int, at: str,
    phrase_ids: list[list[list[int]]] | None = None, search_from: int = 0, spread: bool = False,
) -> np.ndarray:  # fmt: skip
    """(heads, S) int64: the group head h must look at from position s, -1 where it is free.

    ``at="answer"``: at every position that predicts an answer token, head g looks at group g (one head
    per group). ``at="mentions"``: at every token of a phrase naming group g (``phrase_ids[g]``, each
    phrase as token ids, found wherever it occurs from ``search_from`` on: the first image token, since
    a word before the image cannot look at it) every supervised head looks at group g; a token two
    phrases share keeps the first group. With ``spread`` the looks are spread looks, written ``g + SPREAD``.
    """
    length = len(input_ids)
    plan = np.full((heads, length), -1, np.int64)
    if at == "answer":
        answering = np.zeros(length, bool)
        answering[:-1] = np.asarray(labels)[1:] != -100
        for g in range(min(groups, heads)):
            plan[g, answering] = g + SPREAD * spread
        return plan
    ids = np.asarray(input_ids)
    for g, phrases in enumerate(phrase_ids or []):
        for phrase in phrases:
            n = len(phrase)
            if n == 0 or n > length - search_from:
                continue
            windows = np.lib.stride_tricks.sliding_window_view(ids[search_from:], n)
            for start in search_from + np.flatnonzero((windows == np.asarray(phrase)).all(axis=1)):
                span = slice(start, start + n)
                plan[:, span] = np.where(plan[:, span] < 0, g + SPREAD * spread, plan[:, span])
    return plan


def mention_map(plan_at_mentions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(S,) int64: the group whose name each prompt token is part of, -1 elsewhere (and in the answer, which
    a look from the answer cannot rely on: it may not be written yet, e.g. a count's listing names colours
    there). ``plan_at_mentions`` is one head's row of an ``at="mentions"`` :func:`look_plan`.

    Example:
        >>> mention_map(np.array([-1, 0, 0, -1, 1, 1]), np.array([-100, -100, -100, -100, -100, 7]))
        array([-1,  0,  0, -1,  1, -1])
    """
    answer = np.flatnonzero(np.asarray(labels) != -100)
    out = np.where(np.asarray(plan_at_mentions) >= SPREAD, -1, plan_at_mentions).astype(np.int64)
    if len(answer):
        out[answer[0] :] = -1
    return out


def grounding_loss(
    weights: torch.Tensor, plan: torch.Tensor, input_ids: torch.Tensor, image_token_id: int, targets: torch.Tensor,
    mentions: torch.Tensor | None = None,
) -> torch.Tensor | None:  # fmt: skip
    """Mean over the planned looks of −log attention mass on the target cells (a spread look: −mean log
    attention over its cells and the sink), or None when there are none. With ``mentions`` the looks are
    at the words naming each group instead of its cells (``keys: mentions``).

    Args:
        weights: (B, H, Q, S) attention probabilities of the last Q query positions over all S keys
            (Q < S when the shared prompt prefix was computed separately).
        plan: (B, heads, S) the group each supervised head looks at from each position (``g + SPREAD``
            for a spread look), -1 where free (:func:`look_plan`).
        input_ids: (B, S); the media tokens (``<imagePatch>``, images and videos) are the keys the
            targets refer to.
        image_token_id: Id of the ``<imagePatch>`` token.
        targets: (media tokens in the batch, 2 * MAX_GROUPS) rows in the batch's token order (row-major per
            image, samples in batch order): column g 1 on the cells of group g, column g + SPREAD on one
            cell per object of it (:func:`group_cells`).
        mentions: (B, S) the group whose name each prompt token is part of, -1 elsewhere
            (:func:`mention_map`), for looks at the words instead of the cells.
    """
    batch, length = input_ids.shape
    heads, queries = min(plan.shape[1], weights.shape[1]), weights.shape[2]
    is_image = input_ids == image_token_id  # (B, S)
    if int(is_image.sum()) != targets.shape[0]:
        raise InputError(f"{targets.shape[0]} grounding rows for {int(is_image.sum())} media tokens in the batch")
    look = plan[:, :heads, length - queries :].to(weights.device)  # (B, heads, Q)
    columns = int(look.max()) + 1  # only the target columns some look is at (no spread look: not those)
    if columns == 0:
        return None
    if columns > targets.shape[1]:
        raise InputError(f"a look at target column {columns - 1} of {targets.shape[1]}")
    if mentions is not None:
        words = mentions.to(weights.device)[..., None] == torch.arange(columns, device=weights.device)
        key_targets = words.to(torch.float32)  # (B, S, columns)
    else:
        key_targets = torch.zeros(batch, length, columns, dtype=torch.float32, device=weights.device)
        key_targets[is_image] = targets[:, :columns].to(key_targets)
    spread = look >= SPREAD
    column = look.clamp(min=0)  # (B, heads, Q): the target column of each look
    n_cells = key_targets.sum(dim=1)  # (B, columns)
    supervised = (look >= 0) & (n_cells.gather(1, column.flatten(1)).view_as(look) > 0)
    if not bool(supervised.any()):
        return None
    probs = weights[:, :heads].float()
    mass = torch.einsum("bhqs,bsg->bhqg", probs, key_targets).gather(-1, column[..., None])[..., 0]
    losses = -torch.log(mass + _EPS)  # (B, heads, Q)
    if bool((spread & supervised).any()):
        log_probs = torch.log(probs + _EPS)
        on_cells = torch.einsum("bhqs,bsg->bhqg", log_probs, key_targets).gather(-1, column[..., None])[..., 0]
        keys = n_cells.gather(1, column.flatten(1)).view_as(look) + 1  # the cells and the sink
        losses = torch.where(spread, -(on_cells + log_probs[..., SINK]) / keys, losses)
    return losses[supervised].mean()


class AttentionCapture:
    """The attention probabilities of one decoder layer in the last forward through it, recomputed.

    A forward hook on the layer's attention keeps its queries (projected from the layer's input with the
    layer's own weights and rotary embedding) and its keys (the layer's key cache when the forward used
    one, e.g. the shared prompt prefix); :meth:`probabilities` turns them into softmax weights under the
    causal and padding masks. The model keeps its attention implementation (SDPA, flash), and only this
    layer's weights are materialised, with gradients into its query and key projections.
    """

    def __init__(self, model: Any, layer: int) -> None:
        layers = model.model.language_model.layers
        if not 0 <= layer < len(layers):
            raise InputError(f"grounding.layer {layer}: the decoder has layers 0..{len(layers) - 1}")
        self.attention = layers[layer].self_attn
        self.queries: torch.Tensor | None = None  # (B, H, Q, D)
        self.keys: torch.Tensor | None = None  # (B, KV, S, D)
        self._handle = None

    def _keep(self, module: Any, args: Any, kwargs: dict[str, Any], output: Any) -> None:
        hidden = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
        batch, length, _ = hidden.shape
        shape = (batch, length, -1, module.head_dim)
        queries = module.q_proj(hidden).view(shape).transpose(1, 2)
        keys = module.k_proj(hidden).view(shape).transpose(1, 2)
        rotate = sys.modules[type(module).__module__].apply_rotary_pos_emb  # the layer's own rotary code
        self.queries, keys = rotate(queries, keys, *kwargs["position_embeddings"])
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        self.keys = cache.layers[module.layer_idx].keys if cache is not None else keys

    def probabilities(self, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, H, Q, S) attention weights of the last Q positions over all S keys.

        Args:
            attention_mask: (B, S) 1 on real tokens, 0 on padding (the batch's mask).
        """
        if self.queries is None or self.keys is None:
            raise RuntimeError("no forward pass through the grounded layer was recorded")
        queries, keys = self.queries, self.keys
        keys = keys.repeat_interleave(queries.shape[1] // keys.shape[1], dim=1)  # grouped-query heads
        scores = torch.matmul(queries.float(), keys.float().transpose(-1, -2)) * self.attention.scaling
        n_queries, n_keys = scores.shape[-2:]
        causal = torch.ones(n_queries, n_keys, dtype=torch.bool, device=scores.device).tril(n_keys - n_queries)
        allowed = causal[None, None] & attention_mask[:, None, None, :].bool().to(scores.device)
        return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)

    def __enter__(self) -> AttentionCapture:
        self.queries = self.keys = None
        self._handle = self.attention.register_forward_hook(self._keep, with_kwargs=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
