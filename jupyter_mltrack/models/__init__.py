"""Models: MLmodel packaging, flavors, loading by URI, the registry's Python/CLI face, serving.

Public entry points live in :mod:`.fluent` (``log_model``, ``load_model``, ``save_model``,
``register_model``) and :mod:`.registry` (:class:`ModelRegistry`). Nothing here imports a
framework (torch, scikit-learn) or the store until it is used.
"""
