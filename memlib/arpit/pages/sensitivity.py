"""Figures 3 and 4, loss sensitivity (Arpit et al. 2017): the page's parameters, recipe and figure."""

from __future__ import annotations

from dataclasses import dataclass

from .base import PageStudy


@dataclass(frozen=True, kw_only=True)
class SensitivityStudy(PageStudy):
    """Figures 3 and 4, loss sensitivity."""

    def describe(self, short: bool = False) -> dict[str, str]:
        return {"data": "-", "model": "-", "epochs": "-"}
