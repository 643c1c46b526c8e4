"""m2sdk.processing image path vs transformers' Qwen2-VL PIL image processor (the reference).

Tolerance (normalised units, i.e. after (x/255 - mean)/std; one grey level ≈ 0.0146): OpenCV's
resampling differs from PIL's bicubic by mean |Δ| ≤ 0.011 and max |Δ| ≤ 0.27 (at sharp edges) on
the synthetic scenes below, measured for every size and budget here; the test asserts mean < 0.015
(about one grey level) and max < 0.35. Where no resize happens the match must be ~1e-6, which pins the
patch order exactly.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from m2sdk.errors import InputError
from m2sdk.processing import ImageProcessorConfig, num_image_tokens, preprocess_images, smart_resize

MEAN_TOL, MAX_TOL = 0.015, 0.35


def scene(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Deterministic natural-ish RGB image: smooth gradients, sensor noise and hard-edged shapes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack(
        [128 + 100 * np.sin(x / 17 + y / 29), 128 + 100 * np.cos(x / 23 - y / 11), 255 * (x + y) / (height + width)],
        axis=-1,
    )
    image += rng.normal(0, 8, image.shape)
    cv2.rectangle(image, (width // 5, height // 5), (width // 2, height // 2), (250, 20, 30), -1)
    cv2.circle(image, (2 * width // 3, 2 * height // 3), max(2, min(height, width) // 6), (10, 200, 240), -1)
    return np.clip(image, 0, 255).astype(np.uint8)


def reference_processor(config: ImageProcessorConfig):
    module = pytest.importorskip("transformers.models.qwen2_vl.image_processing_pil_qwen2_vl")
    return module.Qwen2VLImageProcessorPil(
        min_pixels=config.min_pixels,
        max_pixels=config.max_pixels,
        patch_size=config.patch_size,
        temporal_patch_size=config.temporal_patch_size,
        merge_size=config.merge_size,
        image_mean=list(config.image_mean),
        image_std=list(config.image_std),
    )


def run_reference(config: ImageProcessorConfig, images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    out = reference_processor(config)(images=images, return_tensors="np", input_data_format="channels_last")
    return out["pixel_values"], out["image_grid_thw"]


SIZES_WH = [(640, 480), (320, 240), (1280, 720), (300, 1000), (30, 40)]


@pytest.mark.parametrize("max_tokens", [16384, 512])  # M2 default; the official example's budget
@pytest.mark.parametrize(("width", "height"), SIZES_WH)
def test_matches_transformers_pil_processor(width: int, height: int, max_tokens: int) -> None:
    config = ImageProcessorConfig(max_pixels=max_tokens * 28 * 28)
    image = scene(height, width)
    pixel_values, grid_thw = preprocess_images([image], config)
    ref_values, ref_grid = run_reference(config, [image])
    np.testing.assert_array_equal(grid_thw, ref_grid)
    assert pixel_values.shape == ref_values.shape
    assert pixel_values.dtype == np.float32 and grid_thw.dtype == np.int64
    diff = np.abs(pixel_values - ref_values)
    assert diff.mean() < MEAN_TOL, f"mean |Δ| {diff.mean():.4f}"
    assert diff.max() < MAX_TOL, f"max |Δ| {diff.max():.3f}"


def test_patch_order_is_exact_when_no_resize_happens() -> None:
    # 476x644 and 280x252 are multiples of 28 inside the pixel bounds: both processors skip resampling,
    # so any difference would come from the patch layout. Noise makes every misplaced value visible.
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (476, 644, 3), dtype=np.uint8), rng.integers(0, 256, (280, 252, 3), np.uint8)]
    config = ImageProcessorConfig()
    pixel_values, grid_thw = preprocess_images(images, config)
    ref_values, ref_grid = run_reference(config, images)
    np.testing.assert_array_equal(grid_thw, [[1, 34, 46], [1, 20, 18]])
    np.testing.assert_array_equal(grid_thw, ref_grid)
    np.testing.assert_allclose(pixel_values, ref_values, atol=1e-5, rtol=0)


def test_first_row_is_the_top_left_patch_channel_then_time() -> None:
    # Independent of transformers: row 0 = top-left 14x14 patch, laid out (C, t, 14, 14), t repeated.
    image = np.random.default_rng(2).integers(0, 256, (56, 56, 3), dtype=np.uint8)
    config = ImageProcessorConfig()
    pixel_values, _ = preprocess_images([image], config)
    mean, std = np.array(config.image_mean), np.array(config.image_std)
    patch = (image[:14, :14].astype(np.float64) / 255 - mean) / std  # (14, 14, C)
    expected = np.repeat(patch.transpose(2, 0, 1)[:, None], 2, axis=1)  # (C, t, 14, 14)
    np.testing.assert_allclose(pixel_values[0], expected.reshape(-1), atol=1e-5)
    # Row 1 is the next patch inside the 2x2 merge window (to the right), row 2 the one below it.
    right = (image[:14, 14:28, 0].astype(np.float64) / 255 - mean[0]) / std[0]
    below = (image[14:28, :14, 0].astype(np.float64) / 255 - mean[0]) / std[0]
    np.testing.assert_allclose(pixel_values[1, :196], right.reshape(-1), atol=1e-5)
    np.testing.assert_allclose(pixel_values[2, :196], below.reshape(-1), atol=1e-5)


def test_several_images_concatenate_in_order() -> None:
    a, b = scene(240, 320, seed=3), scene(1000, 300, seed=4)
    both, grid = preprocess_images([a, b])
    only_a, grid_a = preprocess_images([a])
    only_b, grid_b = preprocess_images([b])
    np.testing.assert_array_equal(grid, np.concatenate([grid_a, grid_b]))
    np.testing.assert_array_equal(both, np.concatenate([only_a, only_b]))


def test_empty_list_gives_empty_arrays() -> None:
    pixel_values, grid_thw = preprocess_images([])
    assert pixel_values.shape == (0, 1176) and grid_thw.shape == (0, 3)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((20, 20), np.uint8), np.zeros((20, 20, 4), np.uint8), np.zeros((20, 20, 3), np.float32), None],
)
def test_non_rgb_uint8_input_is_refused(bad) -> None:
    with pytest.raises(InputError, match="to_rgb"):
        preprocess_images([bad])


# ---------------------------------------------------------------- smart_resize


def transformers_smart_resize():
    module = pytest.importorskip("transformers.models.qwen2_vl.image_processing_pil_qwen2_vl")
    return module.smart_resize


GRID_SIDES = [1, 2, 13, 27, 28, 29, 41, 55, 56, 99, 224, 239, 240, 333, 480, 640, 719, 720, 1080, 1281, 3001, 4096]


@pytest.mark.parametrize(("min_tokens", "max_tokens"), [(4, 16384), (4, 512), (128, 768), (4, 4)])
def test_smart_resize_matches_transformers_on_a_grid(min_tokens: int, max_tokens: int) -> None:
    reference = transformers_smart_resize()
    low, high = min_tokens * 784, max_tokens * 784
    checked = 0
    for height in GRID_SIDES:
        for width in GRID_SIDES:
            if max(height, width) / min(height, width) > 200:
                continue
            assert smart_resize(height, width, 28, low, high) == reference(height, width, 28, low, high)
            checked += 1
    assert checked > 400


@settings(max_examples=300, deadline=None)
@given(
    height=st.integers(1, 8000),
    width=st.integers(1, 8000),
    max_tokens=st.sampled_from([64, 512, 768, 1280, 16384]),
)
def test_smart_resize_matches_transformers_random(height: int, width: int, max_tokens: int) -> None:
    reference = transformers_smart_resize()
    args = (height, width, 28, 4 * 784, max_tokens * 784)
    if max(height, width) / min(height, width) > 200:
        with pytest.raises(InputError, match="aspect ratio"):
            smart_resize(*args)
        with pytest.raises(ValueError):
            reference(*args)
        return
    h, w = smart_resize(*args)
    assert (h, w) == reference(*args)
    assert h % 28 == 0 and w % 28 == 0


def test_smart_resize_known_values() -> None:
    assert smart_resize(480, 640) == (476, 644)
    assert smart_resize(40, 30) == (84, 56)  # tiny: enlarged to reach 4 tokens' worth of pixels
    assert smart_resize(720, 1280, max_pixels=512 * 784) == (448, 840)
    with pytest.raises(InputError, match="aspect ratio"):
        smart_resize(10, 2010)
    with pytest.raises(InputError):
        smart_resize(0, 10)


def test_num_image_tokens() -> None:
    assert num_image_tokens([1, 34, 46]) == [391]
    assert num_image_tokens(np.array([[1, 34, 46], [2, 10, 12]])) == [391, 60]
    # consistent with the pixel rows: 4 patch rows per token
    _, grid = preprocess_images([scene(480, 640)])
    assert num_image_tokens(grid) == [int(grid.prod()) // 4]


# ---------------------------------------------------------------- config


def test_config_defaults_and_roundtrip() -> None:
    config = ImageProcessorConfig()
    assert config.factor == 28
    assert (config.min_pixels, config.max_pixels) == (3136, 12845056)
    data = config.to_dict()
    assert data["image_mean"] == [0.48145466, 0.4578275, 0.40821073]
    assert ImageProcessorConfig.from_dict({**data, "do_resize": True, "processor_class": "X"}) == config
    assert ImageProcessorConfig.from_dict({"max_pixels": 401408}).max_pixels == 401408


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("patch_size", 0),
        ("max_pixels", -1),
        ("merge_size", 2.0),
        ("min_pixels", 10**9),  # above max_pixels
        ("video_min_frames", 500),  # above video_max_frames
        ("video_fps", 0.0),
        ("video_fps", float("nan")),
        ("image_std", (0.2, 0.0, 0.2)),
        ("image_mean", (0.5, 0.5)),
        ("video_min_pixels", 10**8),  # above video_max_pixels
    ],
)
def test_config_validation_names_the_field(field: str, value) -> None:
    with pytest.raises(ValueError, match=field):
        ImageProcessorConfig(**{field: value})
