"""The M2-Reasoning model family in PyTorch (needs the ``torch`` extra)."""
