"""The training engine: an explicit loop on Accelerate."""

from scaler_wizard.train.loop import TrainResult, train_model

__all__ = ["TrainResult", "train_model"]
