"""erpcore: a compact Odoo-style ERP server.

The framework knows nothing about any particular addon: addons are found on
the addons path, read from their ``__manifest__.py`` and loaded by the
registry (:mod:`erpcore.modules`, :mod:`erpcore.registry`).
"""

__version__ = "0.1.0"
