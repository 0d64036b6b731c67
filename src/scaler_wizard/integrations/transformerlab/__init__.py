"""Scaler Wizard as a TransformerLab Task: `task.yaml`, a gallery entry and an entry module.

Importing this package does not import the `lab` SDK (the `transformerlab` extra); only the
entry module (`python -m scaler_wizard.integrations.transformerlab`) needs it.
"""
