"""Export m2-tiny in every precision and print sizes, export time and parity (not a test).

    python bench/export_sizes.py [--out /tmp/m2-bundles] [--image-size 644x476]

Also exports the decoder of a wider model (hidden 256, 4 layers), where the int4/fp32 size ratio is
not dominated by the fp32 LM head as it is in m2-tiny.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.export's wider test model


def bundle_rows(out: Path, image_size: tuple[int, int]) -> list[dict]:
    from m2export.bundle import export_bundle
    from m2export.export_config import ExportConfig

    rows = []
    for precision in ("fp32", "fp16", "int8", "int4"):
        folder = export_bundle(ExportConfig("m2-tiny", out / f"tiny-{precision}", precision=precision,
                                            image_size=image_size, tensorrt=True, force=True))  # fmt: skip
        manifest = json.loads((folder / "manifest.json").read_text())
        parity = json.loads((folder / "parity.json").read_text())
        size = {k: sum(e["bytes"] for n, e in manifest["files"].items() if n.startswith(k)) for k in
                ("decoder.onnx", "vision.onnx", "embed_tokens", "tensorrt/")}  # fmt: skip
        delta = parity.get("eval", {}).get("delta_overall")
        rows.append({"precision": precision, "export_s": manifest["export_seconds"], **size,
                     "max_abs": parity["max_abs_logit_diff"], "mean_abs": parity["mean_abs_logit_diff"],
                     "greedy": parity["greedy_agreement"], "eval_delta": delta})  # fmt: skip
    return rows


def wider_decoder_ratio() -> dict:
    from m2export.decoder_export import export_decoder
    from m2export.graphs import write_decoder
    from tests.export.test_quantized_bundles import small_model

    with tempfile.TemporaryDirectory() as tmp:
        work, out = Path(tmp) / "work", Path(tmp) / "out"
        out.mkdir()
        export_decoder(small_model(), work / "decoder.onnx", max_context=512)
        write_decoder(work, out, "int4")
        fp32 = sum(p.stat().st_size for p in work.glob("decoder.onnx*"))
        int4 = sum(p.stat().st_size for p in out.glob("decoder.onnx*"))
    return {"fp32_bytes": fp32, "int4_bytes": int4, "ratio": int4 / fp32}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "m2-bundles")
    parser.add_argument("--image-size", default="644x476")
    args = parser.parse_args()
    from m2export.export_config import parse_image_size

    started = time.perf_counter()
    rows = bundle_rows(args.out, parse_image_size(args.image_size))
    print(f"{'prec':5} {'export s':>8} {'decoder':>9} {'vision':>9} {'embed':>8} {'tensorrt/':>9} "
          f"{'max|Δ|':>9} {'mean|Δ|':>9} {'greedy':>6} {'Δeval':>7}")  # fmt: skip
    for r in rows:
        delta = "-" if r["eval_delta"] is None else f"{r['eval_delta']:+.3f}"
        print(f"{r['precision']:5} {r['export_s']:8.1f} {r['decoder.onnx']:9d} {r['vision.onnx']:9d} "
              f"{r['embed_tokens']:8d} {r['tensorrt/']:9d} {r['max_abs']:9.2e} {r['mean_abs']:9.2e} "
              f"{r['greedy']:6.0%} {delta:>7}")  # fmt: skip
    wide = wider_decoder_ratio()
    print(
        f"hidden-256 / 4-layer decoder: fp32 {wide['fp32_bytes']} B, int4 {wide['int4_bytes']} B, "
        f"ratio {wide['ratio']:.1%}"
    )
    print(f"total {time.perf_counter() - started:.0f} s; bundles in {args.out}")


if __name__ == "__main__":
    main()
