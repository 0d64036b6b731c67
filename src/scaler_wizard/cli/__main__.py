"""`python -m scaler_wizard.cli`."""

from scaler_wizard.cli import app

app()
