"""Execute the tutorial notebooks top to bottom with nbclient, parameters injected.

    python notebooks/execute.py                      # embedded model, executed copies in place
    python notebooks/execute.py --model tiny --out /tmp/executed 01-grow-context.ipynb

Parameters replace the assignments of the cell tagged "parameters" (papermill's convention),
so an executed copy shows the values it ran with. `make notebooks` runs this.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ASSIGNMENT = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<value>[^#]*?)(?P<comment>\s*#.*)?$")


def notebooks() -> list[Path]:
    return sorted(HERE.glob("[0-9][0-9]-*.ipynb"))


def inject_parameters(nb: Any, parameters: Mapping[str, Any]) -> None:
    """Replace the value of each named assignment in the "parameters" cell, comments kept."""
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        raise ValueError("the notebook has no cell tagged 'parameters'")
    missing = set(parameters)
    lines = []
    for line in cell.source.splitlines():
        match = ASSIGNMENT.match(line)
        if match and match["name"] in parameters:
            missing.discard(match["name"])
            value = parameters[match["name"]]
            literal = json.dumps(value) if isinstance(value, str) else repr(value)
            line = f"{match['name']} = {literal}{match['comment'] or ''}"
        lines.append(line)
    if missing:
        raise ValueError(f"not parameters of this notebook: {sorted(missing)}")
    cell.source = "\n".join(lines)


def tidy(nb: Any) -> None:
    """Widget state is bulky and meaningless once the kernel is gone; the kernel's version
    details would change the file on every machine; progress counters that rewrite their
    line (carriage returns) are stored as the line a notebook shows at the end."""
    nb.metadata.pop("widgets", None)
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)


def coalesce_streams(outputs: list[Any]) -> list[Any]:
    merged: list[Any] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            output.output_type == "stream"
            and previous is not None
            and previous.output_type == "stream"
            and previous.name == output.name
        ):
            previous.text += output.text
        else:
            merged.append(output)
    for output in merged:
        if output.output_type == "stream":
            lines = output.text.split("\n")
            output.text = "\n".join(line.rsplit("\r", 1)[-1] for line in lines)
    return merged


def execute(
    path: Path,
    parameters: Mapping[str, Any],
    output: Path | None = None,
    timeout_s: int = 3600,
) -> Any:
    """Run `path` in a `python3` kernel (this interpreter when its kernelspec says "python")
    from the notebooks folder; return the executed notebook, also written to `output`."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    inject_parameters(nb, parameters)
    client = NotebookClient(
        nb,
        timeout=timeout_s,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    tidy(nb)
    if output is not None:
        nbformat.write(nb, output)
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook files (default: all)")
    parser.add_argument("--model", choices=("tiny", "embedded"), default="embedded")
    parser.add_argument("--workspace", default="", help="default: notebooks/.workspace")
    parser.add_argument("--out", type=Path, help="folder for executed copies (default: in place)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = [HERE / Path(name).name for name in args.names] or notebooks()
    for path in paths:
        target = (args.out / path.name) if args.out else path
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        print(f"{path.name} ({args.model}) ...", flush=True)
        params = {"model": args.model, "workspace": args.workspace}
        execute(path, params, target, args.timeout)
        print(f"{path.name}: {time.perf_counter() - started:.0f} s -> {target}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
