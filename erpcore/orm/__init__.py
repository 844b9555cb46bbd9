"""The object-relational layer: fields, models, environments.

Nothing here imports the addons, the HTTP layer or the registry that assembles
them (:mod:`erpcore.registry`): models are recorded as Python defines them.
"""

from erpcore.orm import fields
from erpcore.orm.environment import Environment
from erpcore.orm.exceptions import AccessError, UserError, ValidationError
from erpcore.orm.models import Model

__all__ = ["AccessError", "Environment", "Model", "UserError", "ValidationError", "fields"]
