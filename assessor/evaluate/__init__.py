"""The rule engine: pure (evidence + catalog in, results out); never touches a target or store."""

from assessor.evaluate.engine import evaluate, evaluate_rule

__all__ = ["evaluate", "evaluate_rule"]
