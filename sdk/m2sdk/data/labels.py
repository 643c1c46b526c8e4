"""Dense per-pixel labels of an image (instance ids, metric depth) and the per-token targets built from them.

A model with a pretrained vision tower (the released M2) reads objects and depth from its first step. A
model trained from random weights (m2-mini) does not, and question answering alone is too weak a signal to
teach a vision tower from scratch in a CPU budget. ``m2 data synth --labels`` therefore writes, next to
each image, what the renderer knows exactly, in lossless formats any dataset tool reads:

* ``labels/NAME_instances.png``: uint8, 0 for the room (walls, floor, ceiling), ``k + 1`` for object ``k``
  of the record's ``scene["objects"]``;
* ``labels/NAME_depth.png``: uint16 camera-frame depth (z) in millimetres, 0 where unknown.

The record's ``scene["labels"]`` names both files. :func:`cell_targets` turns them, with the scene's
object list, into one target per vision token (a ``cell`` of ``patch_size * merge_size`` pixels after the
processor's resize): is there an object, its colour and category, where its centre is (camera-frame depth
and lateral offset), its size, whether the cell holds its visible centre, and the cell's surface depth.
Depth-only data (a real RGB-D capture) gives the depth targets alone.

Example:
    >>> labels = write_labels(out_dir, "labels/000003", result.instance_ids, result.depth_m)
    >>> targets = cell_targets(record, root, image_hw=(168, 224), cell_px=28)
    >>> targets.has_object.reshape(6, 8)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from m2sdk.errors import InputError

INSTANCES = "instances"
DEPTH = "depth"
DEPTH_PER_M = 1000.0  # depth PNG units per metre (millimetres, as RGB-D sensors write them)
MIN_OBJECT_FRACTION = 0.15  # share of a cell an object must cover to be that cell's object


def write_labels(root: str | Path, stem: str, instance_ids: np.ndarray, depth_m: np.ndarray) -> dict[str, str]:
    """Write the two label PNGs of one image under ``root``; returns their paths relative to ``root``.

    Args:
        root: Dataset folder.
        stem: Path stem relative to ``root`` (``"labels/000003"``).
        instance_ids: (H, W) int, -1 for the room and ``k`` for object ``k`` (the renderer's convention).
        depth_m: (H, W) float camera-frame depth in metres (inf or <= 0 where unknown).
    """
    import cv2

    ids = np.asarray(instance_ids)
    if ids.max(initial=-1) > 254:
        raise InputError(f"at most 255 objects fit an instance PNG, got id {int(ids.max())}")
    depth = np.asarray(depth_m, dtype=np.float64)
    depth_mm = np.where(np.isfinite(depth) & (depth > 0), np.round(depth * DEPTH_PER_M), 0)
    paths = {INSTANCES: f"{stem}_instances.png", DEPTH: f"{stem}_depth.png"}
    images = {INSTANCES: (ids + 1).astype(np.uint8), DEPTH: np.clip(depth_mm, 0, 65535).astype(np.uint16)}
    for key, rel in paths.items():
        path = Path(root) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), images[key]):
            raise InputError(f"could not write {path}")
    return paths


@dataclass
class DenseLabels:
    """The label maps of one image; either may be None when the dataset lacks it.

    Attributes:
        instances: (H, W) int16, -1 for the room, ``k`` for object ``k``.
        depth_m: (H, W) float32 metres, 0 where unknown.
    """

    instances: np.ndarray | None
    depth_m: np.ndarray | None


def read_labels(root: str | Path, labels: dict[str, str]) -> DenseLabels:
    """Read the label files a record names (``scene["labels"]``), relative to ``root``.

    Raises:
        InputError: A named file is missing or unreadable, or the two maps differ in size.
    """
    import cv2

    maps: dict[str, np.ndarray | None] = {INSTANCES: None, DEPTH: None}
    for key in maps:
        if key not in labels:
            continue
        path = Path(root) / labels[key]
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None or image.ndim != 2:
            raise InputError(f"label file {path} is missing or not a single-channel PNG")
        maps[key] = image
    instances = None if maps[INSTANCES] is None else maps[INSTANCES].astype(np.int16) - 1
    depth = None if maps[DEPTH] is None else maps[DEPTH].astype(np.float32) / DEPTH_PER_M
    if instances is not None and depth is not None and instances.shape != depth.shape:
        raise InputError(f"label maps of different sizes: {instances.shape} and {depth.shape} ({labels})")
    return DenseLabels(instances, depth)


@dataclass
class CellTargets:
    """Per-token targets of one image, one entry per cell, cells in row-major order (the vision tokens' order).

    Attributes:
        grid: (rows, cols) of cells.
        has_object: The cell shows an object (at least :data:`MIN_OBJECT_FRACTION` of it).
        colour, category: Index into the vocabularies given to :func:`cell_targets`, -1 if none/unknown.
        centre_log_depth: log(camera-frame z of the object's centre, metres).
        centre_x_m: The object centre's lateral camera-frame offset (metres, + to the right).
        log_size: log(longest dimension of the object, metres).
        is_centre: The cell holds the centroid of the object's visible pixels (one cell per object).
        has_depth: The cell has a measured surface depth; ``log_depth`` is its log mean depth (metres).
    """

    grid: tuple[int, int]
    has_object: np.ndarray
    colour: np.ndarray
    category: np.ndarray
    centre_log_depth: np.ndarray
    centre_x_m: np.ndarray
    log_size: np.ndarray
    is_centre: np.ndarray
    has_depth: np.ndarray
    log_depth: np.ndarray

    FIELDS = (
        "has_object", "colour", "category", "centre_log_depth", "centre_x_m", "log_size", "is_centre",
        "has_depth", "log_depth",
    )  # fmt: skip

    def to_array(self) -> np.ndarray:
        """(cells, len(FIELDS)) float32, columns in :attr:`FIELDS` order (what a training batch carries)."""
        return np.stack([np.asarray(getattr(self, f), np.float32) for f in self.FIELDS], axis=1)


def cell_targets(
    scene: dict[str, Any],
    root: str | Path,
    image_hw: tuple[int, int],
    cell_px: int,
    *,
    colours: list[str],
    categories: list[str],
    min_object_fraction: float = MIN_OBJECT_FRACTION,
) -> CellTargets:
    """Per-token targets of one image from its label files and its scene description.

    Args:
        scene: The record's ``scene`` (``labels``, ``objects``, ``camera`` as ``m2 data synth`` writes them).
        root: Folder the label paths are relative to.
        image_hw: (height, width) of the image as the model sees it (after the processor's resize).
        cell_px: Pixels per vision token side (``patch_size * merge_size``, 28 for M2).
        colours, categories: Vocabularies the indices refer to (unknown names give -1).

    Raises:
        InputError: The scene names no label files, or they cannot be read.
    """
    import cv2

    if not scene.get("labels"):
        raise InputError("the record has no dense labels (scene['labels']); make the data with --labels")
    height, width = image_hw
    rows, cols = _grid(image_hw, cell_px)
    labels = read_labels(root, scene["labels"])
    n = rows * cols
    out = CellTargets(
        (rows, cols), np.zeros(n, bool), np.full(n, -1), np.full(n, -1), np.zeros(n, np.float32),
        np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros(n, bool), np.zeros(n, bool),
        np.zeros(n, np.float32),
    )  # fmt: skip
    if labels.depth_m is not None:
        depth = cv2.resize(labels.depth_m, (width, height), interpolation=cv2.INTER_NEAREST)
        cells = _cells(depth, rows, cols, cell_px)  # (n, cell_px * cell_px)
        known = cells > 0
        count = known.sum(axis=1)
        out.has_depth = count > 0
        mean = np.where(known, cells, 0).sum(axis=1) / np.maximum(count, 1)
        out.log_depth = np.log(np.maximum(mean, 1e-3)).astype(np.float32) * out.has_depth
    if labels.instances is not None:
        ids = cv2.resize(labels.instances, (width, height), interpolation=cv2.INTER_NEAREST)
        _object_targets(out, ids, scene, rows, cols, cell_px, colours, categories, min_object_fraction)
    return out


def _cells(image: np.ndarray, rows: int, cols: int, cell_px: int) -> np.ndarray:
    """(rows*cols, cell_px*cell_px): the pixels of each cell, cells in row-major order."""
    blocks = image.reshape(rows, cell_px, cols, cell_px).transpose(0, 2, 1, 3)
    return blocks.reshape(rows * cols, cell_px * cell_px)


def _object_targets(out: CellTargets, ids: np.ndarray, scene: dict, rows: int, cols: int, cell_px: int,
                    colours: list[str], categories: list[str], min_fraction: float) -> None:  # fmt: skip
    objects = scene.get("objects", [])
    if ids.max(initial=-1) >= len(objects):
        raise InputError(f"instance id {int(ids.max())} but the scene lists {len(objects)} objects")
    if not objects:
        return
    centres = centres_in_camera(scene, objects)  # (k, 3)
    counts = _object_pixels(ids, len(objects), rows, cols, cell_px)  # (n, k)
    best = counts.argmax(axis=1)
    out.has_object = counts[np.arange(len(best)), best] >= min_fraction * cell_px * cell_px
    for cell in np.flatnonzero(out.has_object):
        obj = objects[best[cell]]
        out.colour[cell] = colours.index(obj["colour"]) if obj.get("colour") in colours else -1
        out.category[cell] = categories.index(obj["category"]) if obj.get("category") in categories else -1
        x, _, z = centres[best[cell]]
        out.centre_log_depth[cell] = np.log(max(float(z), 1e-2))
        out.centre_x_m[cell] = float(x)
        out.log_size[cell] = np.log(max(float(max(obj["size_m"])), 1e-2))
    for k in range(len(objects)):
        cell = _centroid_cell(ids, k, cols, cell_px)
        if cell is not None and out.has_object[cell] and best[cell] == k:
            out.is_centre[cell] = True


def _centroid_cell(ids: np.ndarray, k: int, cols: int, cell_px: int) -> int | None:
    """The cell holding the centroid of object ``k``'s visible pixels, None when none is visible."""
    vs, us = np.nonzero(ids == k)
    if len(vs) == 0:
        return None
    return int(vs.mean()) // cell_px * cols + int(us.mean()) // cell_px


def _object_pixels(ids: np.ndarray, n_objects: int, rows: int, cols: int, cell_px: int) -> np.ndarray:
    """(rows*cols, n_objects): how many pixels of each object each cell holds."""
    cells = _cells(ids.astype(np.int64) + 1, rows, cols, cell_px)  # 0 = room
    counts = [(cells == k + 1).sum(axis=1) for k in range(n_objects)]
    return np.stack(counts, axis=1) if counts else np.zeros((rows * cols, 0), np.int64)


def _grid(image_hw: tuple[int, int], cell_px: int) -> tuple[int, int]:
    """(rows, cols) of cells of an image, which must be a whole number of cells."""
    height, width = image_hw
    if height % cell_px or width % cell_px:
        raise InputError(f"image size {image_hw} is not a multiple of the {cell_px}-pixel cell")
    return height // cell_px, width // cell_px


def object_cells(
    scene: dict[str, Any],
    root: str | Path,
    image_hw: tuple[int, int],
    cell_px: int,
    names: list[str],
    *,
    min_object_fraction: float = MIN_OBJECT_FRACTION,
    one_per_object: bool = False,
) -> np.ndarray:
    """(cells, len(names)) bool: the cells that show each named object of the scene.

    A cell shows an object when it covers at least ``min_object_fraction`` of the cell; a visible object
    too small for that still gets the one cell holding most of its pixels, so every object in view has a
    cell. An object out of view (or a name the scene lacks) gets none. With ``one_per_object`` each
    object in view gets exactly one cell, the one :func:`cell_targets` marks ``is_centre`` (the centroid
    of its visible pixels) when that cell shows it, else the cell holding most of its pixels: counting
    needs one key per object, whatever the object's size.

    Raises:
        InputError: The scene has no instance labels, or they cannot be read.
    """
    import cv2

    labels = read_labels(root, scene.get("labels") or {})
    if labels.instances is None:
        raise InputError("the record has no instance labels (scene['labels']); make the data with --labels")
    rows, cols = _grid(image_hw, cell_px)
    objects = [o.get("name") for o in scene.get("objects", [])]
    ids = cv2.resize(labels.instances, image_hw[::-1], interpolation=cv2.INTER_NEAREST)
    counts = _object_pixels(ids, len(objects), rows, cols, cell_px)  # (n, k)
    out = np.zeros((rows * cols, len(names)), bool)
    for j, name in enumerate(names):
        if name not in objects:
            continue
        pixels = counts[:, objects.index(name)]
        if pixels.max(initial=0) == 0:
            continue
        if one_per_object:
            k = objects.index(name)
            centroid = _centroid_cell(ids, k, cols, cell_px)
            shows = centroid is not None and int(counts[centroid].argmax()) == k
            shows = shows and pixels[centroid] >= min_object_fraction * cell_px * cell_px
            out[centroid if shows else int(pixels.argmax()), j] = True
            continue
        out[:, j] = pixels >= min_object_fraction * cell_px * cell_px
        out[int(pixels.argmax()), j] = True
    return out


def centres_in_camera(scene: dict, objects: list[dict]) -> np.ndarray:
    """(k, 3) the objects' centres in the camera frame (x right, y down, z ahead; metres)."""
    camera = scene.get("camera") or {}
    if "rotation_cw" not in camera or "position_m" not in camera:
        raise InputError("the scene has no camera pose (camera.rotation_cw, camera.position_m)")
    rotation = np.asarray(camera["rotation_cw"], np.float64)
    centres = np.asarray([o["centre_m"] for o in objects], np.float64)
    return (centres - np.asarray(camera["position_m"], np.float64)) @ rotation.T
