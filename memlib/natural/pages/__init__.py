"""The pages of the "Back to Fundamentals" chapter: each module holds one page's recipe (the
cached runs it reads) and its figure; all share one set of parameters
(:class:`.base.NaturalStudy`).

These modules only read cached results (every run is keyed by its own spec), so they are
outside the subpackage's code version. They must not import ``memlib.params``,
``memlib.recipes`` or ``memlib.book``, which import them.
"""

from .base import NaturalStudy

# Page name -> its parameters, in the paper's order.
PAGES = {
    "natural_size": NaturalStudy,
    "natural_epochs": NaturalStudy,
    "natural_gap": NaturalStudy,
    "natural_transient": NaturalStudy,
    "natural_artificial": NaturalStudy,
}
