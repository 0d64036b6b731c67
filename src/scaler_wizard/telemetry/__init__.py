"""Typed run events, the bus that fans them out, and the built-in sinks."""

from scaler_wizard.telemetry.bus import EventBus, Sink
from scaler_wizard.telemetry.events import Event

__all__ = ["Event", "EventBus", "Sink"]
