"""Build TensorRT engines from a bundle's ``tensorrt/`` folder (runs on the target: Jetson Orin/Thor).

This file is copied into every bundle exported with ``--tensorrt`` as ``tensorrt/build_engines.py`` and
needs only Python and the ``tensorrt`` package of the device's JetPack: TensorRT engines are specific to
the GPU and the TensorRT version, so they are built where they run, not on the export machine.

    python3 tensorrt/build_engines.py            # builds vision.engine and decoder.engine
    python3 tensorrt/build_engines.py decoder    # only one of them

It reads ``profiles.json`` (optimisation profiles for the bundle's image size and context, and the
builder flags for its precision) and keeps a timing cache (``timing.cache``) so a rebuild after a
change takes seconds instead of minutes. Orin (SM87) supports FP16, INT8 and INT4 weight-only
(blockwise INT4 DequantizeLinear); FP8 needs SM89+ and FP4 SM100+.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKSPACE_BYTES = 4 << 30  # 4 GiB of scratch memory; Orin NX 16 GB builds fit


def build_engine(trt, onnx_path: Path, engine_path: Path, spec: dict, cache_path: Path) -> None:
    """Parse ``onnx_path``, add ``spec``'s profiles and flags, write the serialized engine."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch (TensorRT 10 default)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "\n".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT cannot parse {onnx_path}:\n{errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    for flag in spec["flags"]:
        if not hasattr(trt.BuilderFlag, flag):
            raise RuntimeError(f"this TensorRT ({trt.__version__}) has no BuilderFlag.{flag}; use TensorRT >= 10")
        config.set_flag(getattr(trt.BuilderFlag, flag))
    cache = config.create_timing_cache(cache_path.read_bytes() if cache_path.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    for profile_spec in spec["profiles"]:
        profile = builder.create_optimization_profile()
        for name, (low, opt, high) in profile_spec["shapes"].items():
            profile.set_shape(name, low, opt, high)
        config.add_optimization_profile(profile)
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise RuntimeError(f"TensorRT failed to build {engine_path.name} (see the log above)")
    engine_path.write_bytes(bytes(engine))
    cache_path.write_bytes(bytes(config.get_timing_cache().serialize()))


def build_all(folder: Path = HERE, only: list[str] | None = None) -> list[Path]:
    """Build every engine listed in ``folder/profiles.json`` (or only the named graphs)."""
    import tensorrt as trt

    specs = json.loads((folder / "profiles.json").read_text())["graphs"]
    built = []
    for name, spec in specs.items():
        if only and name not in only:
            continue
        engine_path = folder / spec["engine"]
        print(f"building {engine_path} with {spec['flags']} (TensorRT {trt.__version__})", flush=True)
        build_engine(trt, folder / spec["onnx"], engine_path, spec, folder / "timing.cache")
        built.append(engine_path)
    return built


if __name__ == "__main__":
    build_all(HERE, sys.argv[1:] or None)
