"""Labeling functions (weak supervision): small functions vote keep/drop/abstain (or a label)
on each record; a label model learns how far to trust each one and combines the votes."""

from scaler_wizard.data.labeling.builtin import BUILT_IN_FUNCTIONS
from scaler_wizard.data.labeling.functions import (
    ABSTAIN,
    DROP,
    KEEP,
    LabelFunction,
    Vote,
    answer_of,
    question_of,
)
from scaler_wizard.data.labeling.model import Decision, FittedModel, fit_label_model
from scaler_wizard.data.labeling.transform import LabelFunctionsOptions, label_functions

__all__ = [
    "ABSTAIN",
    "BUILT_IN_FUNCTIONS",
    "DROP",
    "KEEP",
    "Decision",
    "FittedModel",
    "LabelFunction",
    "LabelFunctionsOptions",
    "Vote",
    "answer_of",
    "fit_label_model",
    "label_functions",
    "question_of",
]
