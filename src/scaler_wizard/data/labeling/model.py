"""The label model: a weighted majority vote whose weights are learned from agreement alone.

Each labeling function j has an accuracy a_j; its vote counts log(a_j·(K−1)/(1−a_j)), the
log-odds of the one-coin Dawid–Skene model with K classes and a uniform class prior. No gold
labels exist, so the accuracies are fitted by expectation–maximisation: start every function at
a prior accuracy (the first pass is a plain majority vote), take each record's posterior under
the current weights, re-estimate a_j as the posterior probability of j's own votes (smoothed
toward the prior), and repeat until the weights settle. Only records where two or more
functions voted carry evidence about accuracy; the rest are labelled but not learned from.

Explicit cases: a record on which every function abstains gets no label ("abstain"); equal
top scores are a "tie" (never broken silently: the caller decides); a function that agrees
no better than chance gets weight 0 (ignored, and reported), never a negative one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Votes = Sequence[tuple[int, str]]  # (function index, label) for the functions that voted
Status = Literal["voted", "tie", "abstain"]
TIE_TOLERANCE = 1e-9
MAX_ACCURACY = 0.99  # keeps weights finite when a function always agrees


@dataclass(frozen=True)
class Decision:
    label: str | None  # the winning label; None on a tie or when every function abstained
    probability: dict[str, float]  # posterior per class; empty when every function abstained
    status: Status


@dataclass(frozen=True)
class FittedModel:
    classes: tuple[str, ...]
    accuracies: list[float]
    weights: list[float]
    iterations: int
    converged: bool

    def decide(self, votes: Votes) -> Decision:
        if not votes:
            return Decision(None, {}, "abstain")
        probability = _posterior(votes, self.weights, self.classes)
        ranked = sorted(probability.values(), reverse=True)
        if len(ranked) > 1 and ranked[0] - ranked[1] <= TIE_TOLERANCE:
            return Decision(None, probability, "tie")
        return Decision(max(probability, key=probability.__getitem__), probability, "voted")


def fit_label_model(
    votes: Sequence[Votes],
    functions: int,
    classes: Sequence[str],
    *,
    prior_accuracy: float = 0.7,
    prior_strength: float = 2.0,
    max_iterations: int = 50,
    tolerance: float = 1e-6,
) -> FittedModel:
    """Accuracies and weights for `functions` labeling functions from their `votes` per record.

    `classes` are every label a function may give (at least two are assumed, so one class seen
    alone still competes with "not it"). `prior_strength` is how many records of evidence the
    prior accuracy counts as: functions with few overlaps stay near it.
    """
    names = tuple(dict.fromkeys(classes))
    k = max(2, len(names))
    accuracies = [prior_accuracy] * functions
    weights = [_weight(prior_accuracy, k)] * functions
    shared = [v for v in votes if len(v) > 1]  # a lone vote says nothing about accuracy
    for iteration in range(1, max_iterations + 1):
        agree = [0.0] * functions
        seen = [0] * functions
        for record in shared:
            posterior = _posterior(record, weights, names)
            for index, label in record:
                agree[index] += posterior[label]
                seen[index] += 1
        accuracies = [
            min(
                MAX_ACCURACY,
                (agree[j] + prior_strength * prior_accuracy) / (seen[j] + prior_strength),
            )
            for j in range(functions)
        ]
        updated = [_weight(a, k) for a in accuracies]
        change = max((abs(a - b) for a, b in zip(updated, weights, strict=True)), default=0.0)
        weights = updated
        if change < tolerance:
            return FittedModel(names, accuracies, weights, iteration, True)
    return FittedModel(names, accuracies, weights, max_iterations, False)


def _weight(accuracy: float, classes: int) -> float:
    """Log-odds of a correct vote against one particular wrong class; 0 at or below chance."""
    if accuracy <= 1 / classes:
        return 0.0
    return math.log(accuracy * (classes - 1) / (1 - accuracy))


def _posterior(votes: Votes, weights: Sequence[float], classes: Sequence[str]) -> dict[str, float]:
    scores = dict.fromkeys(classes, 0.0)
    for index, label in votes:
        scores[label] = scores.get(label, 0.0) + weights[index]
    top = max(scores.values())
    exp = {label: math.exp(score - top) for label, score in scores.items()}
    total = sum(exp.values())
    return {label: value / total for label, value in exp.items()}
