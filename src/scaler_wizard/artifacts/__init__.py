"""The workspace: a folder per run with its recipe, manifest, events, checkpoints and exports."""
