"""Find the labeling functions a recipe names: built-ins by name, user code as `where:function`.

`where` is a Python file (`lfs/quality.py`, relative to the base folder) or a module path
(`lfs.quality`): a file `lfs/quality.py` under the base folder wins, else an installed module.
User files are executed fresh on every run, so an edited function is never served stale.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from scaler_wizard.data.labeling.builtin import BUILT_IN_FUNCTIONS
from scaler_wizard.data.labeling.functions import LabelFunction


class LabelFunctionImportError(ValueError):
    """A reference that does not lead to a callable; the message lists what was tried."""


@dataclass(frozen=True)
class ResolvedFunction:
    name: str  # as written in the recipe
    function: LabelFunction
    code_sha256: str  # of the defining file or module source: edits change the fingerprint


def is_reference(name: str) -> bool:
    return ":" in name


def resolve_function(reference: str, base_dir: Path) -> ResolvedFunction:
    if not is_reference(reference):
        if reference not in BUILT_IN_FUNCTIONS:
            raise LabelFunctionImportError(
                f"unknown built-in labeling function {reference!r}; built-ins: "
                f"{', '.join(BUILT_IN_FUNCTIONS)}; user code is written 'file.py:function' "
                "or 'module.path:function'"
            )
        built_in = BUILT_IN_FUNCTIONS[reference]
        return ResolvedFunction(reference, built_in, _digest(inspect.getsource(built_in)))
    where, _, attribute = reference.rpartition(":")
    if not where or not attribute:
        raise LabelFunctionImportError(
            f"{reference!r} is not 'file.py:function' or 'module.path:function'"
        )
    module, code = _load_module(where, base_dir)
    function: Any = getattr(module, attribute, None)
    if function is None:
        raise LabelFunctionImportError(
            f"{where!r} was imported ({module.__file__ or module.__name__}) but has no "
            f"attribute {attribute!r}"
        )
    if not callable(function):
        raise LabelFunctionImportError(
            f"{reference!r} is a {type(function).__name__}, not a function"
        )
    return ResolvedFunction(reference, function, _digest(code))


def _load_module(where: str, base_dir: Path) -> tuple[ModuleType, str]:
    """The module and the source text that defines it."""
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = Path(where).expanduser()
        path = path if path.is_absolute() else base_dir / path
        if not path.is_file():
            raise LabelFunctionImportError(f"tried file {path} (not found)")
        return _exec_file(path), path.read_text(encoding="utf-8")
    candidate = base_dir / Path(*where.split(".")).with_suffix(".py")
    if candidate.is_file():
        return _exec_file(candidate), candidate.read_text(encoding="utf-8")
    try:
        module = importlib.import_module(where)
    except ImportError as exc:
        raise LabelFunctionImportError(
            f"tried file {candidate} (not found) and module {where!r} ({exc})"
        ) from None
    except Exception as exc:  # the module's own code failed: say so rather than "not found"
        raise LabelFunctionImportError(
            f"importing module {where!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    try:
        code = inspect.getsource(module)
    except (OSError, TypeError):  # compiled or built-in: its identity must do
        code = f"{module.__name__}@{getattr(module, '__version__', '')}"
    return module, code


def _exec_file(path: Path) -> ModuleType:
    resolved = path.resolve()
    name = f"scaler_wizard_user_lf_{hashlib.sha1(str(resolved).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise LabelFunctionImportError(f"tried file {resolved} (not loadable as Python)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise LabelFunctionImportError(
            f"tried file {resolved}: {type(exc).__name__}: {exc}"
        ) from exc
    return module


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
