"""Schedule file formats, one module each, registered by extension.

A format is a reader ``read(text, path, problems) -> records`` registered with
``@register(name, *extensions)``; ``load_schedule`` picks it by the file's extension. Importing
this package registers the built-in formats (the list below is the only place naming them).
"""

from __future__ import annotations

from . import csv, ics, json, jsonl  # noqa: F401  (registers the built-in formats, in order)
from ._registry import Format, Reader, by_extension, formats, register

__all__ = ["Format", "Reader", "by_extension", "formats", "register"]
