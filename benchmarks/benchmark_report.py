"""docs/BENCHMARKS.md from the measurements `run.py` collects: every number on the page is one
of them, or a ratio of them."""

from __future__ import annotations

from typing import Any

SPEED_VS_PADDED, SPEED_VS_PADDING_FREE = 3.0, 1.3
TRL_FIELDS = (
    "packing",
    "packing_strategy",
    "padding_free",
    "max_length",
    "gradient_checkpointing",
    "bf16",
    "optim",
    "loss_type",
)


def model_flops(run: dict[str, Any]) -> float:
    """Useful FLOP/s of LoRA training: 2·N per real token forward, 2·N backward to the
    activations (frozen weights get no weight gradient)."""
    return 4 * run["base_params"] * run["real_tokens_per_s"]


def render(m: dict[str, Any]) -> str:
    runs = {r["label"]: r for r in m["runs"]}
    peak = max(p["peak_flops"] for p in m["peaks"])
    padded, free = runs["TRL padded"], runs["TRL padding_free=True"]
    ours = [r for r in m["runs"] if r["mode"] == "scaler-wizard"]
    first = m["runs"][0]
    return "\n".join(
        [
            _header(m, first),
            _setup(m, first, runs),
            _results(m["runs"], peak),
            _ratios(ours, padded, free),
            _targets(ours, padded, free, m["activations"], m["profile"]),
            _flops(m, first, peak),
            _trl_settings(m["runs"]),
            _activations(m["activations"]),
            _profile(m["profile"]),
        ]
    )


def _header(m: dict[str, Any], first: dict[str, Any]) -> str:
    machine = m["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    before, after = m["load_average"]
    return f"""# Benchmarks

Measured by `make bench` on {m["date"]}.
Machine: {machine["cpu"]} ({machine["arch"]}), {machine["cores"]} cores,
{machine["memory_gib"]:.0f} GiB RAM; Python {machine["python"]}, {versions}.
The training runs and peak measurements took {m["wall_s"] / 60:.0f} minutes.
To reproduce: `pip install -e '.[bench]'` (brings TRL), then `make bench`, which runs
{_command(m)}; the raw measurements are in that file.

The machine is a shared virtual machine (1-minute load average {before:.1f} at the start and
{after:.1f} at the end, on {machine["cores"]} cores), so absolute speeds are low and noisy, and a
mode can be slowed by load that the next one does not see. {_lockstep(m)}Compare the ratios, and
the CPU seconds per step, which other load disturbs less.
"""


def _command(m: dict[str, Any]) -> str:
    options = f"--steps {m['steps']} --warmup-steps {m['warmup_steps']}"
    return f"`.venv/bin/python benchmarks/run.py {options} --save docs/bench-data/training.json`"


def _warmup(m: dict[str, Any]) -> str:
    warmup = m["warmup_steps"]
    if not warmup:
        return ""
    steps = "step" if warmup == 1 else "steps"
    # A process's first step also pays for first-touch memory and allocator growth.
    return f"{warmup} untimed warm-up {steps}, then "


def _lockstep(m: dict[str, Any]) -> str:
    alone = ", ".join(m["alone"])
    return (
        "So the modes ran side by side, each in its own process set up and warmed up first, "
        "and took turns one timed step at a time, the order rotating every step: load from "
        "elsewhere falls on all of them alike, and the ratios hold even when the absolute "
        f"speeds do not{f' ({alone} ran alone afterwards, for its memory)' if alone else ''}. "
    )


def _setup(m: dict[str, Any], first: dict[str, Any], runs: dict[str, dict[str, Any]]) -> str:
    ours = runs["Scaler Wizard"]
    per_step = ours["real_tokens"] / ours["steps"]
    trl = runs["TRL padding_free=True"]
    return f"""## Training throughput: Scaler Wizard vs TRL `SFTTrainer`

The same for every row: SmolLM2-135M-Instruct (embedded), float32 on CPU, {first["threads"]} torch
threads; LoRA r16, alpha 32, dropout 0.0, on all linear layers ({first["trainable_params"]:,}
trainable parameters in every mode); the {first["records"]} training records of `{m["data"]}`
(mean {first["record_tokens_mean"]:.0f} tokens), tokenized once with the model's chat template,
loss on assistant tokens only, truncated to 1024 tokens, and given to every mode as the same
token ids and labels; AdamW at lr 1e-4, seed 0; {_warmup(m)}{m["steps"]} timed optimizer steps
each; each mode in its own process. Only the optimizer steps are timed, not loading the model,
wrapping it with LoRA or TRL's dataset packing. *Real tokens* are the non-padding input tokens
of the batches the timed steps processed; *label tokens* are the positions with a next-token label.

Work per step: TRL padded and padding-free take 4 records a step (per-device batch 4; here
{trl["real_tokens"] / trl["steps"]:.0f} real tokens a step on average), TRL with packing takes 4
packed rows of up to 1024 tokens. Scaler Wizard takes one packed 1024-token row a step
({per_step:.0f} real tokens on average): one row is the smallest whole number of rows, and the
nearest to TRL's 4-record batches. Its rows are best-fit packed with positions reset per record;
attention runs one causal SDPA call per record (`models.packed_attention`), so no record sees
another; the loss runs the LM head on label positions only, in chunks, each chunk's gradient
taken while its logits exist (`evaluate.linear_cross_entropy`); norms, the SwiGLU and the LoRA
update run the lean kernels (`models.lean_kernels`). *512-token passes* is
`train.micro_batch_tokens: 512`: the step's row is re-packed into forward passes of at most
512 tokens (same records, same gradient; a longer record is a pass of its own), likewise
*384-token passes*; *checkpointing* is `train.gradient_checkpointing: true`. The TRL modes run
transformers' own `sdpa`.
"""


def _results(runs: list[dict[str, Any]], peak: float) -> str:
    lines = [
        "| mode | steps | real tokens/step | s/step | CPU s/step | real tokens/s "
        "| label tokens/s | peak RSS GiB | model GFLOP/s | of fp32 peak |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        steps = r["steps"]
        lines.append(
            f"| {r['label']} | {steps} | {r['real_tokens'] / steps:.0f} | "
            f"{r['seconds'] / steps:.1f} | {r['cpu_seconds'] / steps:.1f} | "
            f"{r['real_tokens_per_s']:.1f} | {r['label_tokens_per_s']:.1f} | "
            f"{r['peak_rss_gib']:.2f} | {model_flops(r) / 1e9:.1f} | "
            f"{model_flops(r) / peak:.1%} |"
        )
    return "\n".join(lines) + "\n"


def _ratios(ours: list[dict[str, Any]], padded: dict[str, Any], free: dict[str, Any]) -> str:
    lines = [
        "| Scaler Wizard row | real tokens/s vs TRL padded (target ≥ 3×) "
        "| vs TRL padding-free (target ≥ 1.3×) | peak RSS vs TRL padding-free (target ≤ 1×) |",
        "|---|---|---|---|",
    ]
    for r in ours:
        lines.append(
            f"| {r['label']} | {_speed(r, padded):.2f}× | {_speed(r, free):.2f}× | "
            f"{r['peak_rss_gib'] / free['peak_rss_gib']:.2f}× |"
        )
    return "\n".join(lines) + "\n"


def _speed(a: dict[str, Any], b: dict[str, Any]) -> float:
    return float(a["real_tokens_per_s"] / b["real_tokens_per_s"])


def _targets(
    ours: list[dict[str, Any]],
    padded: dict[str, Any],
    free: dict[str, Any],
    act: dict[str, Any],
    profile: dict[str, Any],
) -> str:
    lines = ["### Targets", ""]
    for r in ours:
        checks = [
            _check("speed vs TRL padded", _speed(r, padded), SPEED_VS_PADDED, above=True),
            _check("speed vs TRL padding-free", _speed(r, free), SPEED_VS_PADDING_FREE, above=True),
            _check("peak RSS vs TRL padding-free", r["peak_rss_gib"] / free["peak_rss_gib"], 1.0),
        ]
        lines.append(f"- **{r['label']}**: " + "; ".join(checks) + ".")
    settings = {(s["dropout"], s["gradient_checkpointing"]): s for s in act["settings"]}
    plain, checkpointed = settings[(0.0, False)], settings[(0.0, True)]
    by_label = {r["label"]: r for r in ours}
    whole, passes = by_label["Scaler Wizard"], by_label["Scaler Wizard, 512-token passes"]
    fixed = by_label["Scaler Wizard, MALLOC_MMAP_THRESHOLD_=131072"]
    lines += [
        "",
        "What limits memory, measured: without checkpointing a forward keeps "
        f"{plain['total_mib']:.0f} MiB of activations for a {act['row_tokens']}-token row "
        f"({_kib(plain)} KiB a token; table below), on top of the process's "
        f"{whole['setup_rss_gib']:.2f} GiB before training (TRL padding-free: "
        f"{free['setup_rss_gib']:.2f} GiB before, {free['peak_rss_gib']:.2f} GiB peak). "
        "512-token passes keep about half of that at a time: peak RSS "
        f"{whole['peak_rss_gib']:.2f} → {passes['peak_rss_gib']:.2f} GiB for "
        f"{passes['cpu_seconds'] / whole['cpu_seconds'] - 1:+.0%} CPU time a step. "
        "Peak RSS is more than the live tensors: glibc's allocator keeps freed activation "
        "memory resident between passes and steps. Fixing its mmap threshold "
        "(`MALLOC_MMAP_THRESHOLD_=131072`, so large blocks go back to the OS on free) gives "
        f"{fixed['peak_rss_gib']:.2f} GiB for the 1024-token row, but the page faults of "
        f"re-mapping them cost {fixed['cpu_seconds'] / whole['cpu_seconds'] - 1:+.0%} CPU time "
        "a step, so the loop leaves the allocator alone. "
        f"With checkpointing only {checkpointed['total_mib']:.0f} MiB are kept across the forward "
        "(each layer's input), and the peak comes from one layer's recomputed activations "
        "during backward or an LM-head chunk's logits during forward; the price is a second "
        "forward through every layer, "
        "which TRL pays too (its default). The LoRA backward is cheap (no weight gradient for "
        "the frozen weights), so that extra forward is a large share of a step.",
        "",
        _speed_limits(by_label, padded, free, profile),
    ]
    return "\n".join(lines) + "\n"


def _per_cpu_s(run: dict[str, Any]) -> float:
    return float(run["real_tokens"] / run["cpu_seconds"])


def _speed_limits(
    ours: dict[str, dict[str, Any]], padded: dict[str, Any], free: dict[str, Any], p: dict[str, Any]
) -> str:
    plain, checkpointed = ours["Scaler Wizard"], ours["Scaler Wizard, checkpointing"]
    kinds = p["step"]["by_kind"]
    total = sum(kinds.values())
    text = (
        "Speed, per CPU second (which the other load disturbs less): Scaler Wizard trained "
        f"{_per_cpu_s(plain):.1f} real tokens, TRL padded {_per_cpu_s(padded):.1f}, TRL "
        f"padding-free {_per_cpu_s(free):.1f} ({_per_cpu_s(plain) / _per_cpu_s(padded):.2f}× "
        f"and {_per_cpu_s(plain) / _per_cpu_s(free):.2f}×). Checkpointing costs Scaler Wizard "
        f"{checkpointed['cpu_seconds'] / plain['cpu_seconds'] - 1:.0%} more CPU time a step. "
        f"Matmuls are {kinds['matmul'] / total:.0%} of a step's CPU time and attention "
        f"{kinds['attention'] / total:.0%}; {kinds['other'] / total:.0%} is elementwise work "
        "(rotary embeddings, residual sums, gradient accumulation, the activation, norms: "
        "torch's `rms_norm` is itself several elementwise kernels on CPU), which runs far "
        "below the matmul peak. The lean kernels took the LoRA scaling and sum, most of the "
        "SiLU derivative and the LM-head recompute out of a step (*Where the time goes*); "
        "what is left costs the same per position in every mode, so a larger gain needs "
        "compiled, fused kernels for the whole layer, not another batch layout."
    )
    if free["real_tokens_per_s"] < padded["real_tokens_per_s"]:
        text += (
            " In this run TRL padding-free was slower than TRL padded on the same 4-record "
            f"batches ({free['cpu_seconds'] / free['steps']:.1f} vs "
            f"{padded['cpu_seconds'] / padded['steps']:.1f} CPU s a step), the reverse of what "
            "padding-free is for; the ratio against it needs re-measuring on an idle machine "
            "before it is relied on."
        )
    return text


def _check(name: str, value: float, target: float, above: bool = False) -> str:
    sign = "≥" if above else "≤"
    if round(value, 2) == target:  # close enough that two decimals would hide the verdict
        value_text = f"{value:.3f}"
        met = (value >= target) if above else (value <= target)
        verdict = "met" if met else "missed, just"
        return f"{name} {value_text}× — {verdict} (target {sign} {target:g}×)"
    if (value >= target) if above else (value <= target):
        return f"{name} {value:.2f}× — met (target {sign} {target:g}×)"
    if above:
        return (
            f"{name} {value:.2f}× — missed, {value / target:.0%} of the target {sign} {target:g}×"
        )
    return (
        f"{name} {value:.2f}× — missed, {value / target - 1:.0%} over the target {sign} {target:g}×"
    )


def _kib(setting: dict[str, Any]) -> str:
    return f"{sum(setting['bytes_per_token'].values()) / 1024:.0f}"


def _flops(m: dict[str, Any], first: dict[str, Any], peak: float) -> str:
    peaks = ", ".join(f"{p['peak_flops'] / 1e9:.1f}" for p in m["peaks"])
    return f"""### FLOP/s

*Model GFLOP/s* = 4·N·(real tokens/s) with N = {first["base_params"]:,}, the base model's
parameters (the tied embedding counted once, as the LM head): 2·N FLOPs per token forward and
2·N backward to the activations; frozen weights get no weight gradient, and the LoRA matrices
and attention scores are left out. Recomputation (gradient checkpointing), pad tokens and LM-head
work on unlabeled positions are not counted: it is useful work only, the same per real token for
every mode. This CPU's float32 matmul peak, measured in the same run before and after the
training modes (best of 8 rounds of four 2048×2048 `torch.matmul`, {m["peaks"][0]["threads"]}
threads): {peaks} GFLOP/s; the fraction uses the higher, {peak / 1e9:.1f} GFLOP/s.
"""


def _trl_settings(runs: list[dict[str, Any]]) -> str:
    trl = [r for r in runs if "trl" in r]
    lines = [
        "### TRL settings",
        "",
        "SFTTrainer with `peft_config=LoraConfig(...)` and a pre-tokenized dataset "
        "(`input_ids`, `labels`), as its documentation describes. Kept at TRL's defaults: "
        "gradient checkpointing (SFTConfig defaults it to on), its fused chunked LM head, the "
        "optimizer and linear schedule. Set for the benchmark: `bf16=False` (SFTConfig defaults "
        "to bf16 autocast; every mode here is float32), `max_steps`, "
        "`per_device_train_batch_size=4`, `learning_rate=1e-4`, `seed=0`, "
        '`report_to="none"`, logging, saving and evaluation off. Padding-free without packing '
        "takes `max_length=None`: TRL refuses a `max_length` there and asks for truncated inputs, "
        "which these are.",
        "",
        "| mode | " + " | ".join(TRL_FIELDS) + " |",
        "|---|" + "---|" * len(TRL_FIELDS),
    ]
    for r in trl:
        lines.append(f"| {r['label']} | " + " | ".join(str(r["trl"][f]) for f in TRL_FIELDS) + " |")
    return "\n".join(lines) + "\n"


def _activations(act: dict[str, Any]) -> str:
    parts = list(act["settings"][0]["bytes_per_token"])
    lines = [
        "## Where the memory goes",
        "",
        "Bytes autograd keeps for backward after one forward of Scaler Wizard's loss on one "
        f"packed {act['row_tokens']}-token row, per token, by part of the model "
        "(`benchmarks/activation_memory.py`: a saved-tensor hook charges each saved storage once "
        "to the module that saved it; parameters excluded). *lora* holds the inputs of the "
        "adapted linear layers (the frozen base layers keep none); *other* holds the embedding "
        "output, the gradient of the LM head's input (taken during forward, chunk by chunk) "
        "and, with checkpointing, each layer's input; the LM head module keeps nothing. "
        "KiB per token × 1024 tokens = MiB for the row.",
        "",
        "| LoRA dropout | checkpointing | " + " | ".join(parts) + " | total KiB/token |",
        "|---|---|" + "---|" * (len(parts) + 1),
    ]
    for s in act["settings"]:
        cells = " | ".join(f"{s['bytes_per_token'][p] / 1024:.1f}" for p in parts)
        lines.append(
            f"| {s['dropout']} | {'on' if s['gradient_checkpointing'] else 'off'} | {cells} | "
            f"{_kib(s)} |"
        )
    return "\n".join(lines) + "\n"


def _profile(p: dict[str, Any]) -> str:
    kinds = p["step"]["by_kind"]
    total = sum(kinds.values())
    attention = p["attention"]
    top = ", ".join(f"`{k}` {v:.1f} s" for k, v in p["step"]["top_other"].items())
    plain = p["plain_step"]
    plain_kinds = plain["by_kind"]
    lines = [
        "## Where the time goes",
        "",
        "One Scaler Wizard step (one packed 1024-token row holding "
        f"{p['records']} records, no checkpointing, after a warm-up step) under "
        "`torch.profiler`, self CPU time by kind of op (`benchmarks/step_profile.py`), with the "
        "model's own forwards and with the lean kernels `train_model` switches on "
        "(`models.lean_kernels`: fused LoRA update, RMSNorm and SiLU derivative; the LM "
        "head's gradient taken per chunk in forward instead of recomputing the chunk in "
        "backward), both in one process (packed attention in both):",
        "",
        "| ops | own forwards, s | lean kernels, s | lean kernels, share |",
        "|---|---|---|---|",
    ]
    for kind, seconds in kinds.items():
        lines.append(
            f"| {kind} | {plain_kinds[kind]:.2f} | {seconds:.2f} | {seconds / total:.0%} |"
        )
    lines.append(f"| all | {sum(plain_kinds.values()):.2f} | {total:.2f} | 100% |")
    lines += [
        "",
        "Unprofiled (the fastest of 4 rounds in which the two took turns), a step took "
        f"{plain['step_s']:.2f} s with the model's own forwards and {p['step']['step_s']:.2f} s "
        f"with the lean kernels: {plain['step_s'] / p['step']['step_s']:.2f}× as fast.",
    ]
    lines += [
        "",
        f"The largest *other* ops: {top}.",
        "",
        "The row's attention, forward and backward over all layers (best of 3 each): "
        f"{attention['block_mask_s']:.2f} s as transformers' `sdpa` runs it (key/value heads "
        "repeated per query head, one call with a block-diagonal mask), "
        f"{attention['per_record_s']:.2f} s as Scaler Wizard's packed SDPA runs it (one causal "
        "call per record, grouped heads): "
        + (
            f"{attention['block_mask_s'] / attention['per_record_s']:.1f}× faster per record."
            if attention["per_record_s"] < attention["block_mask_s"]
            else "splitting by record did not pay in this run."
        ),
    ]
    return "\n".join(lines) + "\n"
