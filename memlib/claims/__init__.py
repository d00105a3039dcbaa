"""The paper's claims as tested code: one function per claim page, from its runs to a verdict.

Each function (named after its page, e.g. :func:`fig2a_long_tail`) measures the numbers behind
the claim and judges them by criteria written before the results. It returns a :class:`Claim`:

* ``parts``: the criteria the claim is made of, each a measured value against a named
  threshold, with the paper's section the threshold comes from (or "ours" where we chose it);
* ``preconditions``: what must hold for the claim to be testable here at all (the estimator is
  informative, training has converged, ...);
* ``notes``: checks reported beside the verdict that do not enter it;
* ``verdict``: one of :data:`VERDICTS`.

The verdict is **not testable here** if a precondition fails or no part could be measured;
**holds** if every part holds; **partly holds** if the claim's own rule for a partial result
holds (each function states it); **does not hold** otherwise.

The functions read the runs' ``history``, ``table`` and ``epoch_scores`` only, so the tests
drive every rule through every outcome with small synthetic runs.
"""

from .capacity import arpit_capacity
from .convnet import convnet_scores, grid_table, select_setting
from .core import (
    ADMONITION,
    FAILS,
    HOLDS,
    PARTLY,
    UNTESTABLE,
    VERDICTS,
    Claim,
    Criterion,
    decide,
    headline,
    render_markdown,
    render_text,
)
from .csr import arpit_csr
from .difficulty import arpit_difficulty
from .dynamics import (
    fig3_random_label_dynamics,
    fig4_gradient_similarity,
    fig9a_early_convergence,
    fig9b_early_convergence_cct,
    fig10_corruption_levels,
)
from .filters import arpit_filters
from .groundtruth import fz_ground_truth
from .natural import (
    natural_artificial,
    natural_epochs,
    natural_gap,
    natural_size,
    natural_transient,
)
from .localization import maini_gradients, maini_neurons, maini_retraining, maini_rewinding
from .regularizers import arpit_regularizers
from .scores import fig2a_long_tail, fig2b_random_labels, fig7_gallery, fig8_gallery_cifar
from .sensitivity import arpit_sensitivity
from .subsets import fig5ab_easy_difficult, fig5cd_easy_difficult_cifar, fig6_informative_difficult
from .tied import maini_forgotten, maini_tied_baselines, maini_tied_dropout, maini_tied_grid

# Page name -> its claim check, in the paper's order.
CLAIMS = {
    f.__name__: f
    for f in (
        fig2a_long_tail,
        fig2b_random_labels,
        fig3_random_label_dynamics,
        fig4_gradient_similarity,
        fig5ab_easy_difficult,
        fig5cd_easy_difficult_cifar,
        fig6_informative_difficult,
        fig7_gallery,
        fig8_gallery_cifar,
        fig9a_early_convergence,
        fig9b_early_convergence_cct,
        fig10_corruption_levels,
        convnet_scores,
        fz_ground_truth,
        maini_gradients,
        maini_rewinding,
        maini_retraining,
        maini_neurons,
        maini_tied_dropout,
        maini_tied_grid,
        maini_tied_baselines,
        maini_forgotten,
        arpit_difficulty,
        arpit_filters,
        arpit_sensitivity,
        arpit_capacity,
        arpit_csr,
        arpit_regularizers,
        natural_size,
        natural_epochs,
        natural_gap,
        natural_transient,
        natural_artificial,
    )
}

__all__ = [
    "ADMONITION",
    "CLAIMS",
    "FAILS",
    "HOLDS",
    "PARTLY",
    "UNTESTABLE",
    "VERDICTS",
    "Claim",
    "Criterion",
    "decide",
    "grid_table",
    "select_setting",
    "headline",
    "render_markdown",
    "render_text",
    *CLAIMS,
]
