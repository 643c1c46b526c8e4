"""`m2 export` on the command line, and `m2 query` / `m2sdk.load` on the bundle it makes."""

from __future__ import annotations

import json

import cv2
import numpy as np

from m2sdk.cli.main import build_parser, main
from tests.conftest import make_frame


def test_export_help_shows_a_runnable_example(capsys):
    parser = build_parser(only="export")
    subparsers = next(a for a in parser._actions if a.dest == "command")
    text = subparsers.choices["export"].format_help()
    assert "Example:\n  m2 export m2-tiny --out bundles/tiny-fp32" in text
    for flag in ("--precision", "--image-size", "--max-context", "--tensorrt", "--quant-method"):
        assert flag in text


def test_cli_export_then_query_with_onnxruntime(tmp_path, capsys):
    out = tmp_path / "bundle"
    assert main(["export", "m2-tiny", "--out", str(out), "--image-size", "168x112", "--precision", "int4",
                 "--eval-samples", "0"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "decoder.onnx" in printed and "greedy agreement" in printed
    assert json.loads((out / "manifest.json").read_text())["precision"] == "int4"
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), make_frame(112, 168)[:, :, ::-1])
    code = main(["query", "--model", str(out), "--backend", "onnxruntime", str(image), "How far is the chair?",
                 "--fast", "--max-new-tokens", "6", "--numbers", "greedy"])  # fmt: skip
    assert code == 0
    assert "backend : onnxruntime" in capsys.readouterr().out


def test_m2sdk_load_picks_onnxruntime_and_agrees_with_torch(export_tiny):
    import m2sdk

    bundle_model = m2sdk.load(export_tiny("fp32"))
    torch_model = m2sdk.load("m2-tiny", backend="torch")
    assert bundle_model.backend_name == "onnxruntime"
    frame = make_frame(112, 168, seed=3)
    kwargs = {"reasoning": False, "max_new_tokens": 12, "bgr": False}
    a = bundle_model.query(frame, "How many chairs are in the room?", **kwargs)
    b = torch_model.query(frame, "How many chairs are in the room?", **kwargs)
    assert a.raw == b.raw and a.backend == "onnxruntime" and b.backend == "torch"
    assert np.isfinite(a.timings.total_ms)
