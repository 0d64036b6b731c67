"""Adapters that run Scaler Wizard inside other tools. The core never imports this package."""
