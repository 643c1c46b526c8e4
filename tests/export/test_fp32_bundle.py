"""An fp32 bundle of m2-tiny reproduces the PyTorch model: logits within 1e-4, identical greedy answers."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from m2export.parity import forced_logits, parity_inputs, synthetic_frame
from m2sdk.runtime.generation import GenerationConfig, generate
from tests.conftest import make_frame
from tests.export.conftest import IMAGE_SIZE

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def backends(export_tiny, tiny_model, tiny_processor):
    from m2sdk.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend
    from m2sdk.runtime.backends.torch_backend import TorchBackend

    return TorchBackend(tiny_model, tiny_processor), OnnxRuntimeBackend.from_bundle(export_tiny("fp32"))


def own_prompts(processor) -> dict:
    """Prompts other than the exporter's parity set: other sizes, three images, reasoning mode."""
    return {
        "three_images": processor([make_frame(112, 168), make_frame(84, 140, 1), make_frame(196, 56, 2)],
                                  "Which image shows the lamp?", options=["first", "second", "third"]),
        "camera_frame": processor(synthetic_frame(*IMAGE_SIZE, seed=5), "How far is the sofa, in metres?"),
        "wide_frame": processor(make_frame(140, 476, 3), "How many chairs are there?", reasoning=False),
    }  # fmt: skip


@pytest.mark.parametrize("name", ["three_images", "camera_frame", "wide_frame"])
def test_prefill_and_decode_logits_match_torch(backends, tiny_processor, name):
    torch_backend, ort_backend = backends
    inputs = own_prompts(tiny_processor)[name]
    answer = generate(torch_backend, inputs, GenerationConfig(max_new_tokens=12))
    expected = forced_logits(torch_backend, inputs, answer.ids)
    got = forced_logits(ort_backend, inputs, answer.ids)
    assert got.shape == expected.shape == (len(answer.ids) + 1, tiny_processor.tokenizer.vocab_size)
    assert np.abs(got - expected).max() < TOLERANCE
    assert np.abs(expected).max() > 100 * TOLERANCE  # the comparison is not between near-zero numbers


@pytest.mark.parametrize("name", ["three_images", "camera_frame", "wide_frame"])
def test_greedy_answers_identical(backends, tiny_processor, name):
    torch_backend, ort_backend = backends
    inputs = own_prompts(tiny_processor)[name]
    config = GenerationConfig(max_new_tokens=24)
    expected, got = generate(torch_backend, inputs, config), generate(ort_backend, inputs, config)
    assert got.ids == expected.ids and got.text == expected.text
    assert len(got.ids) > 0


def test_vision_features_match_for_images_and_video(backends):
    torch_backend, ort_backend = backends
    rng = np.random.default_rng(0)
    for grid in ([[1, 34, 46]], [[1, 8, 12], [1, 4, 20]], [[3, 8, 8]]):  # camera frame, two images, video
        grid = np.array(grid)
        pixels = rng.standard_normal((int(grid.prod(axis=1).sum()), 1176)).astype(np.float32)
        expected = torch_backend.encode_vision(pixels, grid)
        got = ort_backend.encode_vision(pixels, grid)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(got, axis=-1), 1.0, atol=1e-5)  # M2's L2 norm is in the graph


def test_parity_report_of_the_fixed_prompts(export_tiny):
    report = json.loads((export_tiny("fp32") / "parity.json").read_text())
    assert report["max_abs_logit_diff"] < TOLERANCE
    assert report["greedy_agreement"] == 1.0 and report["greedy_token_agreement"] == 1.0
    assert set(report["prompts"]) == {"text_only", "one_image", "two_images", "video"}
    assert all(p["steps"] == len(p["reference_ids"]) + 1 for p in report["prompts"].values())


def test_parity_prompts_cover_images_and_video(tiny_processor):
    inputs = parity_inputs(tiny_processor, IMAGE_SIZE)
    assert inputs["text_only"].pixel_values is None
    assert inputs["one_image"].image_grid_thw.tolist() == [[1, 8, 12]]
    assert len(inputs["two_images"].image_grid_thw) == 2
    assert inputs["video"].video_grid_thw is not None


def test_manifest_describes_the_bundle(export_tiny):
    folder = export_tiny("fp32")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and manifest["precision"] == "fp32" and manifest["opset"] == 21
    assert manifest["image_size"] == list(IMAGE_SIZE) and manifest["image_tokens"] == 24
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    assert {"vision.onnx", "vision.onnx.data", "decoder.onnx", "decoder.onnx.data", "embed_tokens.npy",
            "tokenizer.json", "preprocessor_config.json", "prompt.json", "parity.json"} <= on_disk  # fmt: skip
    decoder = manifest["graphs"]["decoder"]
    assert decoder["inputs"]["position_ids"]["shape"] == [3, "batch", "seq"]
    assert decoder["inputs"]["past_key.1"] == {"dtype": "float32", "shape": ["batch", 2, "past", 16]}
    assert decoder["outputs"]["logits"]["shape"] == ["batch", manifest["text"]["vocab_size"]]
    assert set(manifest["tools"]) >= {"torch", "transformers", "onnx", "onnxruntime"}
    assert not list(folder.parent.glob(".*partial*"))


def test_runtime_path_imports_no_torch(export_tiny):
    """Robots run bundles without torch: load, encode a frame, answer, and check sys.modules."""
    code = f"""
import sys, numpy as np
from m2sdk.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend
from m2sdk.runtime.generation import GenerationConfig, generate
backend = OnnxRuntimeBackend.from_bundle({str(export_tiny("fp32"))!r})
frame = np.full((112, 168, 3), 128, np.uint8)
gen = generate(backend, backend.processor(frame, "How far is the chair?"), GenerationConfig(max_new_tokens=4))
print(len(gen.ids), sorted(m for m in ("torch", "transformers") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[-2] == "4 []"
