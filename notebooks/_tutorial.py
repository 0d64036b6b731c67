"""What the tutorial notebooks share: the workspace, the model (tiny or embedded), sample data
that falls back to small built-in records when the repository's shared data is absent, and a
few display helpers. Kept here so that each notebook shows only the steps it teaches."""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED_DATA = REPO.parent / "shared" / "data"
MODELS = ("tiny", "embedded")
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TOPICS = [
    ("len", "returns the number of items in a container such as a list, string or dict"),
    ("zip", "pairs up items from several iterables and stops at the shortest one"),
    ("sorted", "returns a new sorted list from any iterable, leaving the input unchanged"),
    ("enumerate", "yields pairs of an index and an item while you loop over an iterable"),
    ("map", "applies a function to every item of an iterable and yields the results"),
    ("filter", "keeps only the items for which a function returns a true value"),
    ("any", "tells whether at least one item of an iterable is true"),
    ("all", "tells whether every item of an iterable is true, and is true for none"),
    ("range", "produces an immutable sequence of integers, often used in for loops"),
    ("reversed", "walks over a sequence from its last item to its first"),
]


def setup(workspace: str = "", model: str = "embedded") -> Path:
    """Use `workspace` (default: `notebooks/.workspace`, ignored by git) as
    `SCALER_WIZARD_HOME`, so that runs and the converted model never land in the repository
    or in your own `~/.scaler-wizard`; silence per-file loading bars and notices meant for
    library developers. The tiny model runs on one thread: a 64-wide model gains nothing
    from more, and loses a lot to waiting on a busy machine."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, not {model!r}")
    folder = Path(workspace).expanduser() if workspace else HERE / ".workspace"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["SCALER_WIZARD_HOME"] = str(folder.resolve())
    # tqdm asks for Jupyter widgets that the loading bars, switched off below, would need.
    warnings.filterwarnings("ignore", message="IProgress not found")
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*is deprecated")
    import torch
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()
    if model == "tiny":
        torch.set_num_threads(1)
    return folder.resolve()


def model_source(model: str, workspace: Path) -> str:
    """A recipe's `model.source`: 'embedded' (SmolLM2-135M-Instruct), or the folder of a tiny
    random-weight Llama built here in a second."""
    if model == "embedded":
        return "embedded"
    if model == "tiny":
        return str(build_tiny_model(workspace / "tiny-model"))
    raise ValueError(f"model must be one of {MODELS}, not {model!r}")


def model_folder(source: str) -> Path:
    """The local safetensors folder of a model source (the embedded GGUF is converted once
    into the workspace's model cache)."""
    from scaler_wizard.models.source import resolve_model_source
    from scaler_wizard.recipe.spec import ModelSpec

    return resolve_model_source(ModelSpec(source=source)).path


def build_tiny_model(folder: Path, max_positions: int = 512, layers: int = 2) -> Path:
    """A 2-layer, 64-wide Llama with random weights and a 512-token byte-level BPE tokenizer
    trained on the sample data: it runs every step in seconds, and learns nothing useful."""
    if (folder / "config.json").is_file():
        return folder
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [m["content"] for r in builtin_chats(40) for m in r["messages"]]
    bpe.train_from_iterator(corpus, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=specials[1], eos_token=specials[2], unk_token=specials[0]
    )
    tokenizer.chat_template = CHATML
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=max_positions,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def builtin_chats(count: int) -> list[dict[str, Any]]:
    """Distinct, well-formed question/answer chats about Python built-ins."""
    records = []
    for i in range(count):
        name, what = TOPICS[i % len(TOPICS)]
        question = f"Question {i + 1}: what does the Python built-in `{name}` do?"
        answer = (
            f"The built-in `{name}` {what}. It works on any iterable of the right kind, so "
            f"example {i + 1} shows it together with a short list of numbers."
        )
        records.append(
            {"messages": [{"role": "user", "content": question},
                          {"role": "assistant", "content": answer}]}
        )  # fmt: skip
    return records


def chat_records(count: int) -> list[dict[str, Any]]:
    """The first `count` chats of `../shared/data/sft_stdlib.jsonl` (questions about Python's
    standard library) when it is there, else as many built-in ones."""
    shared = SHARED_DATA / "sft_stdlib.jsonl"
    if not shared.is_file():
        return builtin_chats(count)
    lines = shared.read_text(encoding="utf-8").splitlines()[:count]
    return [json.loads(line) for line in lines if line.strip()]


def write_jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def long_documents() -> list[Path]:
    """Long real prose: `../shared/data/longdocs/` when present, else this project's own
    documentation pages."""
    for folder in (SHARED_DATA / "longdocs", REPO / "docs"):
        found = sorted(p for p in folder.glob("*") if p.suffix in (".md", ".txt"))
        found = [p for p in found if p.stat().st_size > 10_000]  # skip short READMEs
        if found:
            return found
    raise FileNotFoundError(f"no long .md/.txt documents in {SHARED_DATA / 'longdocs'} or docs/")


def progress(label: str) -> Callable[[int, int], None]:
    """A one-line counter for the evaluators' `progress(done, total)` callbacks."""

    def report(done: int, total: int) -> None:
        print(f"\r{label}: {done}/{total}", end="\n" if done >= total else "", flush=True)

    return report


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Rows of equal keys as a Markdown table (numbers rounded for reading)."""
    from IPython.display import Markdown

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "n/a" if math.isnan(value) else f"{value:,.4g}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(row[key]) for key in header) + " |" for row in rows]
    return Markdown("\n".join(lines))
