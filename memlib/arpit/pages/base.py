"""What every page of the Arpit et al. (2017) chapter shares: its parameters' base class."""

from __future__ import annotations

from dataclasses import dataclass

from ...claims.core import seeds as seed_words
from ...config import check_types
from ...errors import MemlibError

DATA_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}


@dataclass(frozen=True, kw_only=True)
class PageStudy:
    """A page's parameters: the profile they come from, the seeds, and the page's own values
    (fields of the subclass, each with a comment saying what it is). Bad values fail here,
    before any work, in one line."""

    profile: str  # the profile these values come from (smoke, cpu or paper)
    seeds: list[int]  # one set of runs per seed

    def __post_init__(self):
        check_types(self)
        if not self.seeds:
            raise MemlibError("bad parameter seeds=[]: give at least one seed")
        self.check()

    def check(self) -> None:
        """The page's own checks of its values (raise MemlibError with a one-line message)."""

    def describe(self, short: bool = False) -> dict[str, str]:
        """What the page runs, for its header: ``data``, ``model`` and ``epochs`` (``short``:
        a few characters each, for the book's claims table)."""
        raise NotImplementedError

    def scale(self, seeds: bool = True, short: bool = False) -> dict[str, str]:
        """:meth:`describe` and, with ``seeds``, the number of seeds."""
        return self.describe(short) | ({"seeds": seed_words(self.seeds)} if seeds else {})


def positive(study, *names: str) -> None:
    """Fail unless every named field is > 0."""
    for name in names:
        if getattr(study, name) <= 0:
            raise MemlibError(f"bad parameter {name}={getattr(study, name)}: must be > 0")
