"""Context-window extension: engines (registry entries), the planner, and the config writer.

Nothing here imports torch or transformers: planning reads a config object and is pure.
"""

from __future__ import annotations

from scaler_wizard.context.apply import apply_context_plan
from scaler_wizard.context.base import (
    ContextEngine,
    EngineOptions,
    NoOptions,
    RopeGeometry,
    RopeUpdate,
)
from scaler_wizard.context.engines import dynamic, linear, llama3, none, ntk, self_extend, yarn
from scaler_wizard.context.plan import ContextPlan, ContextPlanError
from scaler_wizard.context.planner import plan_context
from scaler_wizard.registry import Registry

__all__ = [
    "ContextEngine",
    "ContextPlan",
    "ContextPlanError",
    "EngineOptions",
    "NoOptions",
    "RopeGeometry",
    "RopeUpdate",
    "apply_context_plan",
    "default_context_registry",
    "plan_context",
    "register_context_engines",
]


def register_context_engines(registry: Registry[ContextEngine]) -> None:
    """Register the built-in engines, in the order they are listed to users."""
    registry.register("none", NoOptions, none.none_engine, none.SUMMARY)
    registry.register("yarn", yarn.YarnOptions, yarn.yarn_engine, yarn.SUMMARY)
    registry.register("linear", NoOptions, linear.linear_engine, linear.SUMMARY)
    registry.register("dynamic", dynamic.DynamicOptions, dynamic.dynamic_engine, dynamic.SUMMARY)
    registry.register("ntk", NoOptions, ntk.ntk_engine, ntk.SUMMARY)
    registry.register("llama3", llama3.Llama3Options, llama3.llama3_engine, llama3.SUMMARY)
    registry.register(
        "self_extend",
        self_extend.SelfExtendOptions,
        self_extend.self_extend_engine,
        self_extend.SUMMARY,
    )


def default_context_registry() -> Registry[ContextEngine]:
    """A fresh registry holding only the built-in engines."""
    registry: Registry[ContextEngine] = Registry("context engine")
    register_context_engines(registry)
    return registry
