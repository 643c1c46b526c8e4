"""m2export: checkpoint → bundle (ONNX graphs, fp16/int8/int4, TensorRT build step, parity report).

The command line is ``m2 export`` (:mod:`m2sdk.cli.export`); this package holds the logic. Importing it
is light; torch, transformers and onnx load when an export runs.

Example:
    >>> from m2export import ExportConfig, export_bundle
    >>> export_bundle(ExportConfig("m2-tiny", "bundles/tiny-int4", precision="int4"))
"""

from __future__ import annotations

from typing import Any

__all__ = ["ExportConfig", "export_bundle"]


def __getattr__(name: str) -> Any:
    if name == "ExportConfig":
        from m2export.export_config import ExportConfig

        return ExportConfig
    if name == "export_bundle":
        from m2export.bundle import export_bundle

        return export_bundle
    raise AttributeError(f"module 'm2export' has no attribute {name!r}")
