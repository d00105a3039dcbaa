"""Arpit et al. (2017): the claim check of the arpit_csr page."""

from __future__ import annotations

from .core import Claim


def arpit_csr(*args, **kwargs) -> Claim:
    raise NotImplementedError
