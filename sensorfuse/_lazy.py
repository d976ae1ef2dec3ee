"""Lazy package exports (PEP 562): a package lists ``name -> module`` and each name is imported on first use, so
``import sensorfuse.io`` costs only what the caller then touches (CONVENTIONS: light imports)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` whose public ``name`` lives in ``exports[name]``: a module
    path relative to the package (``"kitti.calib"``), or ``"module:attribute"`` where the name differs."""

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's name
        where = exports.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        mod, _, attr = where.partition(":")
        value = getattr(importlib.import_module(f"{package}.{mod}"), attr or name)
        globals_ = importlib.import_module(package).__dict__
        globals_[name] = value  # next time a plain attribute
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(set(exports) | set(importlib.import_module(package).__dict__))

    return __getattr__, __dir__
