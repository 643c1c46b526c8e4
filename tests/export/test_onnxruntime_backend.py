"""OnnxRuntimeBackend details: cache reset, devices, the KV cache held as OrtValues, bad inputs."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from m2sdk.errors import InputError, MissingExtraError
from m2sdk.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend
from m2sdk.runtime.generation import GenerationConfig, generate
from tests.conftest import make_frame


@pytest.fixture(scope="module")
def backend(export_tiny):
    return OnnxRuntimeBackend.from_bundle(export_tiny("fp32"))


def test_each_prefill_starts_a_fresh_cache(backend):
    inputs = backend.processor(make_frame(112, 168), "How far is the chair?", reasoning=False)
    first = generate(backend, inputs, GenerationConfig(max_new_tokens=6))
    assert backend._decoder.past_len == len(inputs) + len(first.ids) - 1
    other = backend.processor(None, "How many chairs?", reasoning=False)
    generate(backend, other, GenerationConfig(max_new_tokens=3))
    assert generate(backend, inputs, GenerationConfig(max_new_tokens=6)).ids == first.ids


def test_kv_cache_stays_in_ortvalues_of_the_session_device(backend):
    inputs = backend.processor(None, "How far is the chair?", reasoning=False)
    positions = np.broadcast_to(np.arange(len(inputs)), (3, len(inputs)))
    backend.prefill(inputs.input_ids, None, positions)
    past = backend._decoder.past
    assert len(past) == 4 and all(isinstance(v, ort.OrtValue) for v in past)
    assert past[0].device_name() == "cpu" and past[0].shape() == [1, 2, len(inputs), 16]


def test_patch_count_mismatch_is_an_input_error(backend):
    inputs = backend.processor(make_frame(112, 168), "How far is the chair?")
    positions = np.zeros((3, len(inputs)), np.int64)
    with pytest.raises(InputError, match="24 <imagePatch> tokens but the vision encoder gave 3"):
        backend.prefill(inputs.input_ids, np.zeros((3, 64), np.float32), positions)


def test_devices(export_tiny):
    with pytest.raises(ValueError, match="device must be"):
        OnnxRuntimeBackend.from_bundle(export_tiny("fp32"), device="tpu")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(MissingExtraError, match=r"m2sdk\[gpu\]"):
            OnnxRuntimeBackend.from_bundle(export_tiny("fp32"), device="cuda")


@pytest.mark.gpu
def test_cuda_io_binding_matches_cpu(export_tiny):
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("onnxruntime-gpu is not installed")
    cpu = OnnxRuntimeBackend.from_bundle(export_tiny("fp32"))
    gpu = OnnxRuntimeBackend.from_bundle(export_tiny("fp32"), device="cuda")
    inputs = cpu.processor(make_frame(112, 168), "How far is the chair?", reasoning=False)
    config = GenerationConfig(max_new_tokens=8)
    assert generate(gpu, inputs, config).ids == generate(cpu, inputs, config).ids
    assert gpu._decoder.past[0].device_name() == "cuda"  # the cache never left the GPU
