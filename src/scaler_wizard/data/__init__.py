"""Training data: read, validate, tokenize (assistant-only loss) and pack into rows."""

from scaler_wizard.data.dataset import DataStats, PreparedData, prepare_data
from scaler_wizard.data.errors import DataError
from scaler_wizard.data.formats import Example, Message
from scaler_wizard.data.packing import PackedRow, collate_rows, pack_examples
from scaler_wizard.data.tokenize import TokenizedExample, tokenize_example

__all__ = [
    "DataError",
    "DataStats",
    "Example",
    "Message",
    "PackedRow",
    "PreparedData",
    "TokenizedExample",
    "collate_rows",
    "pack_examples",
    "prepare_data",
    "tokenize_example",
]
