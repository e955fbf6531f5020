"""Modules loaded on first use, so an API process that never reads a video or a PDF never loads PyAV,
PDFium, numpy, python-docx/pptx or OCR (over 100 MiB resident together, issue 19).

    if TYPE_CHECKING:
        from services.resources import extraction
    else:
        extraction = lazy_module("services.resources.extraction")

The stand-in imports the real module on its first attribute access (an ordinary import, under the
interpreter's import lock, so threads racing for it are safe), in whichever process first needs it:
the job worker, a child process, or the API when a request does. tests/services/test_lazy_imports.py
checks that creating the app loads none of them.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _LazyModule(ModuleType):
    """Every attribute read or written is the real module's (a test patching the module is seen)."""

    def _real(self) -> ModuleType:
        module = self.__dict__.get("_lazy_real")
        if module is None:
            module = self.__dict__["_lazy_real"] = importlib.import_module(self.__name__)
        return module

    def __getattr__(self, attribute: str) -> Any:
        # Only called for what the stand-in itself lacks: everything but its name.
        return getattr(self._real(), attribute)

    def __setattr__(self, attribute: str, value: Any) -> None:
        setattr(self._real(), attribute, value)


def lazy_module(name: str) -> ModuleType:
    """A stand-in for the module `name`, imported when first used."""
    return _LazyModule(name)
