"""Narration fed by the throttle: only the active alert speaks, in the order the throttle shows
them, and an alert that lost its turn is not spoken late over the one that replaced it."""

from __future__ import annotations

from pathlib import Path

from alert_helpers import SPEC, Clock, alert, sink_degraded
from pydantic import BaseModel

from event_helpers import Collect
from scaler_wizard.alerts.build import build_alert_sink
from scaler_wizard.alerts.delivery.voice import VoiceChannel
from scaler_wizard.alerts.engine import AlertSink
from scaler_wizard.alerts.rules import RuleBook
from scaler_wizard.alerts.speech import spoken_texts
from scaler_wizard.alerts.throttle import summarise
from scaler_wizard.recipe.alerts import AlertRuleSpec, AlertsSpec, VoiceSpec
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.telemetry.events import (
    AlertPriority,
    BreakerTripped,
    BreakerWarned,
    RunFinished,
)
from scaler_wizard.voice.narrator import Narrator, read_narrations

WARNED = BreakerWarned(trigger="perplexity_rise", reason="Perplexity rose.", state="closed")
TRIPPED = BreakerTripped(
    trigger="loss_spike", action="rollback", reason="The loss jumped.", previous_state="closed"
)


class DiskChecked(BaseModel):
    """An event type the alert package has never heard of; rules match it by its name. (A
    plain model: the bus only needs its name and its fields.)"""

    free_gib: float


def voiced(
    tmp_path: Path, language: str, min_priority: AlertPriority = "advisory"
) -> tuple[EventBus, AlertSink, VoiceChannel, Clock]:
    """A bus with an alert sink whose only channel narrates; the voice worker is not started,
    so a test decides when the queued narrations are rendered."""
    clock = Clock()
    channel = VoiceChannel(
        Narrator(tmp_path, language=language), min_priority=min_priority, start=False
    )
    bus = EventBus("run-1")
    sink = AlertSink(bus.emit, channels=[channel], throttle=SPEC, clock=clock)
    bus.sinks = [sink, Collect()]
    return bus, sink, channel, clock


def test_spoken_texts_translate_the_fields_of_the_phrase() -> None:
    [trip] = RuleBook().derive(EventBus("run-1").emit(TRIPPED))
    texts = spoken_texts(trip)
    assert texts["en"] == (
        "Warning. Training stopped: a loss spike. Next step: roll back to a checkpoint."
    )
    assert texts["es"] == (
        "Advertencia. El entrenamiento se detuvo: un pico de pérdida. "
        "Siguiente paso: volver a un punto de control."
    )
    assert texts["de"].startswith("Warnung. Das Training wurde angehalten: eine Verlustspitze.")
    assert texts["fr"].startswith("Alerte. L'entraînement s'est arrêté : un pic de perte.")
    assert texts["zh"] == "警告。训练已停止：损失突然升高。下一步：回退到检查点。"


def test_a_flood_summary_says_how_many_alerts_it_stands_for() -> None:
    members = [alert(f"w{i}", "caution", key="training") for i in range(4)]
    texts = spoken_texts(summarise("flood-1", "training", members))
    assert texts["es"] == "Precaución. 4 alertas relacionadas. Consulta el panel."
    assert texts["zh"] == "注意。有4条相关警报。请查看仪表板。"


def test_a_custom_rule_speaks_its_title_in_english_and_its_own_phrases() -> None:
    custom = alert("disk_low-3", "caution", rule="disk_low")
    texts = spoken_texts(
        custom, {"de": "{priority}. Der Speicherplatz wird knapp.", "pt": "Atenção."}
    )
    assert texts["en"] == "Caution. title disk_low-3."
    assert texts["de"] == "Vorsicht. Der Speicherplatz wird knapp."
    assert texts["es"] == "Precaución. Nueva alerta. Consulta el panel."  # generic phrase
    assert texts["pt"] == "Atenção."


def test_a_silenced_caution_is_not_spoken_only_the_warning_is(tmp_path: Path) -> None:
    bus, _, channel, clock = voiced(tmp_path, "es")
    bus.emit(WARNED)  # shown, its narration queued
    clock.now = 1
    bus.emit(TRIPPED)  # silences the caution before it was rendered
    channel.worker.drain()
    [spoken] = read_narrations(tmp_path)
    assert spoken.label.startswith("breaker_tripped")
    assert (spoken.wav, spoken.language) == ("0001-es.wav", "es")
    assert spoken.text.startswith("Advertencia. El entrenamiento se detuvo")
    assert (tmp_path / "0001-es.wav").stat().st_size > 10_000


def test_a_pre_empted_alert_is_spoken_after_the_warning_that_interrupted_it(
    tmp_path: Path,
) -> None:
    bus, sink, channel, clock = voiced(tmp_path, "de")
    bus.emit(sink_degraded("http"))
    clock.now = 1
    bus.emit(TRIPPED)  # pre-empts the advisory before its narration was rendered
    clock.now = 11  # the warning's display time is over: the advisory comes back
    sink.tick()
    channel.worker.drain()
    said = [(n.label.split("-")[0], n.text) for n in read_narrations(tmp_path)]
    assert said == [
        (
            "breaker_tripped",
            "Warnung. Das Training wurde angehalten: eine Verlustspitze. "
            "Nächster Schritt: zu einem Sicherungspunkt zurückkehren.",
        ),
        ("sink_degraded", "Hinweis. Möglicherweise fehlen Telemetriedaten."),
    ]


def test_the_priority_floor_keeps_advisories_quiet(tmp_path: Path) -> None:
    bus, _, channel, _ = voiced(tmp_path, "fr", min_priority="caution")
    bus.emit(RunFinished(status="completed", artifact_dir="/a", duration_s=3.0))
    channel.worker.drain()
    assert read_narrations(tmp_path) == []


def test_built_from_settings_narration_lands_in_the_run_folder(tmp_path: Path) -> None:
    disk = AlertRuleSpec(
        name="disk_low",
        event="DiskChecked",
        when={"free_gib": {"lt": 5}},
        priority="caution",
        title="Disk space is low",
        phrases={"zh": "{priority}。磁盘空间不足。"},
    )
    spec = AlertsSpec(rules=[disk], console=False, voice=VoiceSpec(enabled=True, language="zh-CN"))
    bus = EventBus("run-1")
    sink = build_alert_sink(spec, bus.emit, run_dir=tmp_path)
    bus.sinks = [sink]
    bus.emit(DiskChecked(free_gib=2.5))
    bus.close()  # drains the voice worker
    [spoken] = read_narrations(tmp_path / "alerts" / "voice")
    assert (spoken.wav, spoken.text) == ("0001-zh.wav", "注意。磁盘空间不足。")
    assert (tmp_path / "alerts" / "voice" / "0001-zh.wav").is_file()
