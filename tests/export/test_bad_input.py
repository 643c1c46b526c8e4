"""Bad input gives a clear, typed error, and an export that fails leaves nothing behind."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from m2export.bundle import export_bundle
from m2export.export_config import ExportConfig, parse_image_size
from m2sdk.cli.main import main
from m2sdk.errors import CheckpointError, InputError


def leftovers(folder) -> list[str]:
    """Everything in ``folder`` (which an export that failed early may not even have created)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def broken_checkpoint(tiny_checkpoint, tmp_path):
    """``broken_checkpoint(edit)``: a copy of the tiny checkpoint whose tensors ``edit`` changed."""

    def make(edit) -> str:
        folder = tmp_path / "ckpt"
        shutil.copytree(tiny_checkpoint, folder)
        tensors = load_file(folder / "model.safetensors")
        edit(tensors)
        save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
        return str(folder)

    return make


def test_checkpoint_with_a_missing_tensor(broken_checkpoint, tmp_path):
    ckpt = broken_checkpoint(lambda t: t.pop("model.language_model.layers.1.mlp.up_proj.weight"))
    out = tmp_path / "out" / "bundle"
    with pytest.raises(CheckpointError, match=r"layers\.1\.mlp\.up_proj\.weight.*missing"):
        export_bundle(ExportConfig(ckpt, out))
    assert leftovers(out.parent) == []


def test_checkpoint_with_a_mis_shaped_tensor(broken_checkpoint, tmp_path):
    def shrink(tensors):
        tensors["model.linear_proj.0.weight"] = np.zeros((64, 32), np.float32)

    out = tmp_path / "out" / "bundle"
    with pytest.raises(CheckpointError, match=r"linear_proj\.0\.weight.*shape \[64, 32\].*needs \[64, 64\]"):
        export_bundle(ExportConfig(broken_checkpoint(shrink), out))
    assert leftovers(out.parent) == []


@pytest.mark.parametrize("text", ["640x480", "644x470", "20x28", "644", "axb"])
def test_image_size_must_be_multiples_of_28(text):
    with pytest.raises(InputError, match="--image-size"):
        parse_image_size(text)
    assert parse_image_size("644x476") == (644, 476)


def test_cli_reports_a_bad_image_size_without_writing(tmp_path, capsys):
    code = main(["export", "m2-tiny", "--out", str(tmp_path / "b"), "--image-size", "640x480"])
    assert code == 2
    err = capsys.readouterr().err
    assert "not a multiple of 28" in err and "try 644x476" in err
    assert leftovers(tmp_path) == []


def test_existing_output_is_not_overwritten_without_force(tmp_path):
    (tmp_path / "b").mkdir()
    with pytest.raises(InputError, match=r"already exists.*--force"):
        ExportConfig("m2-tiny", tmp_path / "b")


def test_a_failure_late_in_the_export_leaves_nothing(tmp_path, monkeypatch):
    """A fake parity failure (after the graphs are written): the partial folder is removed."""
    import m2export.bundle

    def failing_parity(*args, **kwargs):
        raise RuntimeError("fake failure in the parity check")

    monkeypatch.setattr(m2export.bundle, "check_parity", failing_parity)
    with pytest.raises(RuntimeError, match="fake failure"):
        export_bundle(ExportConfig("m2-tiny", tmp_path / "b", image_size=(56, 56)))
    assert leftovers(tmp_path) == []


def test_a_changed_byte_in_an_exported_bundle_is_refused(export_tiny, tmp_path):
    from m2sdk.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend

    folder = tmp_path / "bundle"
    shutil.copytree(export_tiny("fp32"), folder)
    data = folder / "decoder.onnx.data"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x10  # one bit of one weight
    data.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"decoder\.onnx\.data does not match its SHA-256"):
        OnnxRuntimeBackend.from_bundle(folder)
    with open(folder / "embed_tokens.npy", "r+b") as f:
        f.truncate(100)
    data.write_bytes(bytes(raw[: len(raw) // 2]))
    with pytest.raises(CheckpointError, match="truncated"):
        OnnxRuntimeBackend.from_bundle(folder)
