"""One module per dataset family; each `get_config()` registers itself with `dljax.registry.register`.

Every module in this package is imported by the registry on first use.
"""
