"""Measurements of a model: held-out loss/perplexity, passkey retrieval, report plots."""
