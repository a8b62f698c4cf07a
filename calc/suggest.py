"""The closest names to a misspelt one, for a refusal that says what was probably meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

SUGGESTIONS = 5  # closest names shown for an unknown one
CUTOFF = 0.6  # difflib's similarity below which a name is not offered


def _ranked(text: str, forms: Iterable[str]) -> list[str]:
    """difflib's close matches, best first, ties in alphabetical order (efficientnet_b0 before b8)."""
    matcher = difflib.SequenceMatcher(b=text)
    scored = []
    for form in forms:
        matcher.set_seq1(form)
        if matcher.real_quick_ratio() >= CUTOFF and matcher.quick_ratio() >= CUTOFF:
            ratio = matcher.ratio()
            if ratio >= CUTOFF:
                scored.append((-ratio, form))
    return [form for _, form in sorted(scored)]


def closest_names(text: str, names: Iterable[str], limit: int = SUGGESTIONS) -> list[str]:
    """The ``limit`` names closest to ``text``, each compared whole and without a "kind:" prefix,
    so ``vit_base_patch16_224`` finds ``timm:vit_base_patch16_224``."""
    forms: dict[str, str] = {}
    for name in names:
        forms.setdefault(name, name)
        forms.setdefault(name.split(":", 1)[-1].strip(), name)
    return list(dict.fromkeys(forms[form] for form in _ranked(text, forms)))[:limit]


__all__ = ["closest_names"]
