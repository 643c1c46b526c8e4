"""Package-level promises: a light import, the CLI, friendly missing-extra errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from m2sdk._deps import install_hint, require
from m2sdk.errors import MissingExtraError


def test_import_m2sdk_does_not_import_heavy_packages():
    code = (
        "import m2sdk, sys; m2sdk.Answer; m2sdk.InputError;"
        "heavy = [m for m in ('torch', 'transformers', 'onnxruntime') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_help_lists_every_subcommand():
    out = subprocess.run([sys.executable, "-m", "m2sdk.cli.main", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for name in ("query", "stream", "demo", "data", "train", "export", "eval", "bench", "convert"):
        assert name in out.stdout


def test_missing_extra_names_the_install_command():
    with pytest.raises(MissingExtraError, match=r"pip install"):
        require("surely_not_an_installed_module_m2")
    assert install_hint("onnxruntime") == 'pip install "m2sdk[onnx]"'
    assert install_hint("trl") == 'pip install "m2sdk[train]"'
