"""The dashboard server: the Voila command, its kernel pool and the gallery.

Owns ``dashboard`` (starting Voila on ``notebooks/apps``). May import everything below it
(``core``, ``twin``, ``simulation``, ``ai``, ``lca``, ``store``, ``apps``).
"""
