"""Scaler Wizard: grow small open LLMs — parameters, context and data — on one GPU or a CPU."""

__version__ = "0.1.0"
