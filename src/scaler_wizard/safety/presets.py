"""The three safety presets and how a recipe's `safety:` section overrides them.

Anchors (see shared/reference/safety_telemetry.md §2): OLMo-core skips a step when loss or
grad norm is more than 6σ from the previous 128 values, after ≥64 of them; LLM Foundry's
KillLossSpike needs 5 consecutive outliers (patience 4) and only logs by default; PaLM/OPT/BLOOM
recovered from divergence by rolling back to a checkpoint; HF EarlyStopping stops when the
eval metric stops improving. Those runs log thousands of values; ours log tens to hundreds,
so windows are smaller and the robust median/MAD statistics (stats.py) make up for it.

| preset   | NaN/inf  | spike z | window | warm-up | in a row | spike    | ppl slope/k | ppl   | probe drop | probe | probation | on probation |
|----------|----------|---------|--------|---------|----------|----------|-------------|-------|------------|-------|-----------|--------------|
| strict   | rollback | 4.0     | 16     | 10      | 2        | rollback | 0.01 / 3    | pause | 0.20       | pause | 60        | abort        |
| standard | rollback | 6.0     | 32     | 20      | 3        | rollback | 0.02 / 4    | warn  | 0.34       | pause | 40        | abort        |
| expert   | pause    | 6.0     | 64     | 50      | 5        | warn     | 0.05 / 5    | warn  | 0.50       | warn  | 20        | pause        |
"""  # noqa: E501 - the table is the documentation

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Literal

from scaler_wizard.recipe.spec import SafetyAction, SafetyPreset, SafetySpec


@dataclass(frozen=True)
class Thresholds:
    """Every number and action the breaker uses; field names match `SafetySpec` overrides."""

    on_nan: SafetyAction
    loss_spike_z: float  # robust z above the window median (σ units)
    window: int  # logged losses kept for the spike statistics
    warmup_steps: int  # optimizer steps before a spike may trip
    consecutive_spikes: int  # spikes in a row (logged values) before tripping
    on_loss_spike: SafetyAction
    perplexity_slope: float  # least-squares slope of ln(perplexity) per evaluation
    perplexity_evals: int  # evaluations the slope is fitted over
    on_perplexity_rise: SafetyAction
    probe_drop: float  # accuracy points (0-1) below the best seen so far
    on_probe_drop: SafetyAction
    probation_steps: int  # steps on probation after resuming from a trip
    on_probation_trip: Literal["pause", "abort"]


PRESETS: dict[SafetyPreset, Thresholds] = {
    # For people who cannot judge a loss curve: trip early, recover on its own, ask when unsure.
    "strict": Thresholds(
        # A NaN never heals; going back to the last good checkpoint is what OPT/PaLM did by hand.
        on_nan="rollback",
        # 4σ not 6σ: with 2 in a row a false trip on Gaussian noise is ~1e-9 per log event,
        # and a beginner's short run cannot afford to waste half its steps on a diverged model.
        loss_spike_z=4.0,
        # 16 logs: a 40-step persona run logging every 2 steps has 20; the spike test needs ≥ 8.
        window=16,
        # Loss is erratic while the learning rate warms up (TrainSpec default: 10 steps).
        warmup_steps=10,
        # Each logged value already averages `log_every` steps, so 2 logs is a sustained spike.
        consecutive_spikes=2,
        on_loss_spike="rollback",
        # Perplexity up >1% per evaluation over 3 evaluations: EarlyStopping's "no improvement"
        # with a small tolerance for noise. A person decides whether it is overfitting.
        perplexity_slope=0.01,
        perplexity_evals=3,
        on_perplexity_rise="pause",
        # More than one passkey trial in five lost (0.2) is a real regression.
        probe_drop=0.2,
        on_probe_drop="pause",
        # Watch longer after a recovery; PaLM restarted ~100 steps back, our runs are shorter.
        probation_steps=60,
        # The reference's half-open rule: a second trip in probation means stop, not loop.
        on_probation_trip="abort",
    ),
    # The default for hand-written recipes: published thresholds, scaled to small runs.
    "standard": Thresholds(
        on_nan="rollback",
        loss_spike_z=6.0,  # OLMo-core's sigma_factor
        window=32,  # a quarter of OLMo-core's 128, for runs of hundreds of steps
        warmup_steps=20,
        consecutive_spikes=3,  # between OLMo-core's 1 (per step) and LLM Foundry's 5
        on_loss_spike="rollback",
        perplexity_slope=0.02,  # the reference's "5% above best" reached within ~3 evaluations
        perplexity_evals=4,
        on_perplexity_rise="warn",
        probe_drop=0.34,  # more than a third of the probe lost (1 trial in 3)
        on_probe_drop="pause",
        probation_steps=40,
        on_probation_trip="abort",
    ),
    # For people who watch the cockpit themselves: mostly warnings, never an automatic stop
    # except a pause on NaN (a NaN checkpoint is worthless, so keep the state to inspect).
    "expert": Thresholds(
        on_nan="pause",
        loss_spike_z=6.0,  # OLMo-core
        window=64,  # OLMo-core's warm-up count (half its 128 window)
        warmup_steps=50,
        consecutive_spikes=5,  # LLM Foundry KillLossSpike: patience 4 → 5 outliers
        on_loss_spike="warn",  # LLM Foundry's default is log_only=True
        perplexity_slope=0.05,
        perplexity_evals=5,
        on_perplexity_rise="warn",
        probe_drop=0.5,
        on_probe_drop="warn",
        probation_steps=20,
        on_probation_trip="pause",
    ),
}


def resolve(spec: SafetySpec) -> Thresholds:
    """The preset named by `spec`, with every field the recipe sets explicitly taking over."""
    overrides = {
        f.name: getattr(spec, f.name)
        for f in fields(Thresholds)
        if getattr(spec, f.name) is not None
    }
    return replace(PRESETS[spec.preset], **overrides)


def describe(thresholds: Thresholds) -> dict[str, object]:
    """Plain mapping for plans, model cards and the cockpit."""
    return asdict(thresholds)
