"""Training data: read, validate, transform, tokenize (assistant-only loss), pack, report."""

from scaler_wizard.data.dataset import DataStats, PreparedData, prepare_data
from scaler_wizard.data.errors import DataError
from scaler_wizard.data.formats import Example, Message
from scaler_wizard.data.packing import (
    PackedRow,
    collate_rows,
    pack_examples,
    step_batches,
    token_budget_batches,
)
from scaler_wizard.data.report import DataReport, write_data_report
from scaler_wizard.data.tokenize import TokenizedExample, tokenize_example
from scaler_wizard.data.transforms import default_transforms, register_data_transforms

__all__ = [
    "DataError",
    "DataReport",
    "DataStats",
    "Example",
    "Message",
    "PackedRow",
    "PreparedData",
    "TokenizedExample",
    "collate_rows",
    "default_transforms",
    "pack_examples",
    "prepare_data",
    "register_data_transforms",
    "step_batches",
    "token_budget_batches",
    "tokenize_example",
    "write_data_report",
]
