"""Figure 1, per-example difficulty (Arpit et al. 2017): the page's parameters, recipe and figure."""

from __future__ import annotations

from dataclasses import dataclass

from .base import PageStudy


@dataclass(frozen=True, kw_only=True)
class DifficultyStudy(PageStudy):
    """Figure 1, per-example difficulty."""

    def describe(self, short: bool = False) -> dict[str, str]:
        return {"data": "-", "model": "-", "epochs": "-"}
