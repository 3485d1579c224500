"""Life-cycle assessment of the modules made.

Owns ``factors`` (impact-factor tables), ``analyzer`` (``LCAAnalyzer``), ``results``
(``LifeCycleImpact`` and uncertainty) and ``integration`` (``LCAIntegration``, which turns
a twin's state or a simulation's KPIs into LCA inputs). May import ``core`` only: it is
arithmetic on impact factors, used from above by scenarios and optimisers for carbon.
"""
