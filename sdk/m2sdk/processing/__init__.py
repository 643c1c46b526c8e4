"""Pixel-side preprocessing for M2-Reasoning: frames → RGB → ``pixel_values`` + ``grid_thw``.

numpy + OpenCV only (no torch, no transformers), so it runs on a robot or in an exported bundle.

Example:
    >>> import cv2
    >>> from m2sdk.processing import ImageProcessorConfig, preprocess_images, to_rgb
    >>> pixel_values, grid_thw = preprocess_images([to_rgb(cv2.imread("desk.jpg"))], ImageProcessorConfig())
"""

from m2sdk.processing.config import ImageProcessorConfig
from m2sdk.processing.frames import to_rgb
from m2sdk.processing.image import num_image_tokens, preprocess_images, smart_resize
from m2sdk.processing.video import preprocess_video, read_video, sample_frame_indices, video_frame_size

__all__ = [
    "ImageProcessorConfig",
    "num_image_tokens",
    "preprocess_images",
    "preprocess_video",
    "read_video",
    "sample_frame_indices",
    "smart_resize",
    "to_rgb",
    "video_frame_size",
]
