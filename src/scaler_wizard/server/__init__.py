"""The local web service (`scaler-wizard serve`): a FastAPI app over the workspace.

Jobs run as child processes (`python -m scaler_wizard.cli grow ...`), so the API process never
imports torch, transformers or peft and stays responsive while a model trains.
"""
