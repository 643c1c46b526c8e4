"""Exported bundles: load a bundle folder and verify every file against its ``manifest.json``.

A bundle (written by ``m2 export``) holds the ONNX graphs, the token-embedding table, the tokenizer,
processor settings and a manifest listing the SHA-256 and size of every file. Loading refuses a bundle
whose files were changed, truncated or removed, with a :class:`~m2sdk.errors.CheckpointError` naming the
file: a robot must not run half-copied weights. numpy + json only: no torch, no onnxruntime.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m2sdk.errors import CheckpointError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
PARITY_FILE = "parity.json"
_CHUNK_BYTES = 1 << 22


@dataclass(frozen=True)
class Bundle:
    """A verified bundle folder and its manifest.

    Example:
        >>> bundle = load_bundle("bundles/m2-tiny-fp32")
        >>> bundle.precision, bundle.path("decoder.onnx")
        ('fp32', PosixPath('bundles/m2-tiny-fp32/decoder.onnx'))
    """

    folder: Path
    manifest: dict[str, Any]

    @property
    def precision(self) -> str:
        return str(self.manifest["precision"])

    def path(self, name: str) -> Path:
        """Path of a file listed in the manifest."""
        if name not in self.manifest["files"]:
            raise CheckpointError(f"{self.folder}: {name} is not part of this bundle (not in {MANIFEST_FILE})")
        return self.folder / name

    def graph(self, role: str) -> dict[str, Any]:
        """Manifest entry of the ``"vision"`` or ``"decoder"`` graph (file, inputs, outputs)."""
        try:
            return self.manifest["graphs"][role]
        except KeyError as err:
            raise CheckpointError(f"{self.folder}/{MANIFEST_FILE} has no {role!r} graph") from err


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 4 MB chunks (bundles hold multi-GB weight files)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def file_entries(folder: Path, *, exclude: tuple[str, ...] = (MANIFEST_FILE,)) -> dict[str, dict[str, Any]]:
    """``{relative path: {"sha256", "bytes"}}`` of every file under ``folder`` (for the manifest)."""
    entries = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if name not in exclude:
            entries[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return entries


def read_manifest(folder: Path) -> dict[str, Any]:
    """Parse and sanity-check ``manifest.json`` (format version, required keys)."""
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: {folder} is not an m2sdk bundle (create one with `m2 export`)")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is not valid JSON ({err}); re-export the bundle") from err
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: bundle format version {version!r}, this m2sdk reads version {FORMAT_VERSION}; "
            "re-export the bundle with this m2sdk or upgrade m2sdk"
        )
    missing = [k for k in ("precision", "files", "graphs", "text", "vision", "tokens") if k not in manifest]
    if missing:
        raise CheckpointError(f"{path} lacks the keys {missing}; re-export the bundle")
    return manifest


def verify_files(folder: Path, files: dict[str, dict[str, Any]]) -> None:
    """Raise :class:`CheckpointError` naming the first missing, truncated or changed file."""
    for name, entry in files.items():
        path = folder / name
        if not path.is_file():
            raise CheckpointError(f"{path} is missing from the bundle; re-copy or re-export it")
        size = path.stat().st_size
        if size != entry["bytes"]:
            raise CheckpointError(
                f"{path} has {size} bytes but the manifest says {entry['bytes']}: the file is truncated or "
                "was replaced; re-copy the bundle"
            )
        if sha256_file(path) != entry["sha256"]:
            raise CheckpointError(
                f"{path} does not match its SHA-256 in {MANIFEST_FILE}: the file was changed or corrupted "
                "in transfer; re-copy or re-export the bundle"
            )


def load_bundle(folder: str | Path, *, verify: bool = True) -> Bundle:
    """Open a bundle folder, checking every file's size and SHA-256 against the manifest.

    Args:
        folder: The bundle folder written by ``m2 export``.
        verify: Hash every file (a few seconds per GB). Turn off only for files you just verified.

    Raises:
        CheckpointError: The folder, the manifest or a listed file is missing, or a file changed.

    Example:
        >>> bundle = load_bundle("bundles/m2-tiny-int4")
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"bundle folder {folder} does not exist")
    manifest = read_manifest(folder)
    if verify:
        verify_files(folder, manifest["files"])
    return Bundle(folder, manifest)


def read_parity(folder: str | Path) -> dict[str, Any] | None:
    """The parity report an export wrote into the bundle, or None."""
    path = Path(folder) / PARITY_FILE
    return json.loads(path.read_text()) if path.is_file() else None
