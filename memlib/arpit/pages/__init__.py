"""The pages of the Arpit et al. (2017) chapter: each module holds one page's parameters (a
:class:`.base.PageStudy`), its recipe (the cached runs it reads) and its figure.

These modules cannot change a cached number (every run is keyed by its own config), so they are
outside the subpackage's code version, as ``recipes.py`` and ``plotting.py`` are outside the
package's. They must not import ``memlib.params``, ``memlib.recipes`` or ``memlib.book``, which
import them.
"""

from .capacity import CapacityStudy
from .csr import CSRStudy
from .difficulty import DifficultyStudy
from .filters import FiltersStudy
from .regularizers import RegularizersStudy
from .sensitivity import SensitivityStudy

# Page name -> its parameters, in the paper's order.
PAGES = {
    "arpit_difficulty": DifficultyStudy,
    "arpit_filters": FiltersStudy,
    "arpit_sensitivity": SensitivityStudy,
    "arpit_capacity": CapacityStudy,
    "arpit_csr": CSRStudy,
    "arpit_regularizers": RegularizersStudy,
}
