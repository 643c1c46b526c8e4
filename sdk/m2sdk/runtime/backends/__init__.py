"""Backends run the three stages of the model (vision, prefill, decode step) for the shared loop."""
