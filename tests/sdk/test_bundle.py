"""Bundle loading refuses changed, truncated or missing files, naming the file (no torch involved)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from m2sdk.errors import CheckpointError
from m2sdk.runtime.bundle import FORMAT_VERSION, MANIFEST_FILE, file_entries, load_bundle, sha256_file


@pytest.fixture
def bundle_dir(tmp_path):
    """A minimal bundle: three files and a manifest listing their sizes and hashes."""
    folder = tmp_path / "bundle"
    (folder / "tensorrt").mkdir(parents=True)
    (folder / "decoder.onnx").write_bytes(bytes(range(256)) * 40)
    (folder / "embed_tokens.npy").write_bytes(b"\x93NUMPY" + b"\0" * 1000)
    (folder / "tensorrt" / "profiles.json").write_text("{}")
    manifest = {"format_version": FORMAT_VERSION, "precision": "fp32", "graphs": {"decoder": {"file": "decoder.onnx"}},
                "text": {}, "vision": {}, "tokens": {}, "files": file_entries(folder)}  # fmt: skip
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    return folder


def test_intact_bundle_loads(bundle_dir):
    bundle = load_bundle(bundle_dir)
    assert bundle.precision == "fp32"
    assert set(bundle.manifest["files"]) == {"decoder.onnx", "embed_tokens.npy", "tensorrt/profiles.json"}
    assert bundle.path("decoder.onnx") == bundle_dir / "decoder.onnx"


def test_sha256_is_the_standard_digest(tmp_path):
    path = tmp_path / "abc"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_one_changed_byte_is_refused_naming_the_file(bundle_dir):
    path = bundle_dir / "decoder.onnx"
    data = bytearray(path.read_bytes())
    data[5000] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"decoder\.onnx does not match its SHA-256"):
        load_bundle(bundle_dir)


def test_truncated_file_is_refused(bundle_dir):
    path = bundle_dir / "tensorrt" / "profiles.json"
    path.write_text("{")
    with pytest.raises(CheckpointError, match=r"profiles\.json has 1 bytes but the manifest says 2"):
        load_bundle(bundle_dir)


def test_missing_file_and_missing_manifest(bundle_dir):
    (bundle_dir / "embed_tokens.npy").unlink()
    with pytest.raises(CheckpointError, match=r"embed_tokens\.npy is missing"):
        load_bundle(bundle_dir)
    (bundle_dir / MANIFEST_FILE).unlink()
    with pytest.raises(CheckpointError, match="not an m2sdk bundle"):
        load_bundle(bundle_dir)


def test_bad_manifest_and_version(bundle_dir):
    manifest = json.loads((bundle_dir / MANIFEST_FILE).read_text())
    (bundle_dir / MANIFEST_FILE).write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(CheckpointError, match="format version 99"):
        load_bundle(bundle_dir)
    (bundle_dir / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_bundle(bundle_dir)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_bundle(bundle_dir / "nope")


def test_unlisted_file_cannot_be_asked_for(bundle_dir):
    with pytest.raises(CheckpointError, match="not part of this bundle"):
        load_bundle(bundle_dir).path("vision.onnx")


def test_bundle_module_imports_no_heavy_dependency():
    code = ("import sys, m2sdk.runtime.bundle, m2sdk.runtime.embedding, m2sdk.runtime.vision_inputs; "
            "print([m for m in ('torch', 'transformers', 'onnxruntime') if m in sys.modules])")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
