"""Figures 7 to 9, the critical sample ratio (Arpit et al. 2017): the page's parameters, recipe and figure."""

from __future__ import annotations

from dataclasses import dataclass

from .base import PageStudy


@dataclass(frozen=True, kw_only=True)
class CSRStudy(PageStudy):
    """Figures 7 to 9, the critical sample ratio."""

    def describe(self, short: bool = False) -> dict[str, str]:
        return {"data": "-", "model": "-", "epochs": "-"}
