"""Tiny random-weight Llama and tiny byte-level BPE tokenizer, built in code for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "What does `json.dumps` do in the Python standard library?",
    "Serialize obj to a JSON formatted str. The pass key is 12345. Remember it.",
    "There is an important info hidden inside a lot of irrelevant text.",
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.",
    "Below is an instruction that describes a task. Write a response.",
    "0123456789 user assistant system",
]


def build_tiny_tokenizer(vocab_size: int = 512) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHATML
    return fast


def build_tiny_model(tokenizer: Any, max_positions: int = 256, layers: int = 2) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

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
    return LlamaForCausalLM(config).eval()


def long_document(name: str) -> Path:
    """A real long document: `shared/data/longdocs/<name>` when the shared data is present,
    else this project's own documentation (real prose, ~100 kB) under the same file name, its
    pages in an order that differs per name, so that several names give several documents."""
    shared = SHARED_DATA / "longdocs" / name
    if shared.is_file():
        return shared
    import hashlib
    import tempfile

    root = Path(__file__).resolve().parents[1]
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    turn = sum(map(ord, name)) % len(pages)
    text = "\n\n".join(p.read_text() for p in pages[turn:] + pages[:turn])
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    fallback = Path(tempfile.gettempdir()) / f"scaler-wizard-docs-{digest}" / name
    if not fallback.is_file():
        fallback.parent.mkdir(parents=True, exist_ok=True)
        fallback.write_text(text)
    return fallback


def instruction_records(count: int) -> list[dict[str, Any]]:
    """Real instruction data (`shared/data/sft_stdlib.jsonl`) when present, else as many
    distinct, well-formed question/answer chats about Python built-ins."""
    import json

    shared = SHARED_DATA / "sft_stdlib.jsonl"
    if shared.is_file():
        lines = shared.read_text(encoding="utf-8").splitlines()[:count]
        return [json.loads(line) for line in lines]
    topics = [
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
    records = []
    for i in range(count):
        name, what = topics[i % len(topics)]
        question = f"Question {i + 1}: what does the Python built-in `{name}` do?"
        answer = (
            f"The built-in `{name}` {what}. It works on any iterable of the right kind, so "
            f"example {i + 1} shows it together with a short list of numbers."
        )
        user = {"role": "user", "content": question}
        records.append({"messages": [user, {"role": "assistant", "content": answer}]})
    return records


def write_chat_data(path: Path, records: int) -> Path:
    """A small JSONL file of identical two-turn chats, the shape most pipeline tests need."""
    import json

    record = {
        "messages": [
            {"role": "user", "content": "What does `json.dumps` do?"},
            {"role": "assistant", "content": "Serialize obj to a JSON formatted str."},
        ]
    }
    path.write_text("\n".join(json.dumps(record) for _ in range(records)) + "\n")
    return path
