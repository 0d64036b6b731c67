"""Model and tokenizer loading, the embedded default model, and transformers version seams."""
