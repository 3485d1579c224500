"""Life-cycle assessment of the modules made.

Owns ``factors`` (impact-factor tables, profiles and factor sampling), ``results``
(``LifeCycleImpact`` and ``LCAUncertainty``), ``analyzer`` (``LCAAnalyzer``) and
``integration`` (``LCAIntegration``, which turns a twin's state or a simulation's KPIs
into LCA inputs), each importing only the ones listed before it. May import ``core``
only: it is arithmetic on impact factors, used from above by scenarios and optimisers for
carbon. The public names are importable from here.
"""

from circman_kernel.lca.analyzer import LCAAnalyzer
from circman_kernel.lca.factors import (
    FACTOR_GROUPS,
    PHASES,
    FactorTables,
    available_profiles,
    check_number,
    resolve_profile,
    sample_factor_multipliers,
)
from circman_kernel.lca.integration import LCAIntegration
from circman_kernel.lca.results import LCAUncertainty, LifeCycleImpact

__all__ = [
    "FACTOR_GROUPS",
    "PHASES",
    "FactorTables",
    "LCAAnalyzer",
    "LCAIntegration",
    "LCAUncertainty",
    "LifeCycleImpact",
    "available_profiles",
    "check_number",
    "resolve_profile",
    "sample_factor_multipliers",
]
