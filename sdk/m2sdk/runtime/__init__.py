"""Inference runtime: one generation loop over interchangeable backends (torch, ONNX Runtime, TensorRT)."""
