"""The object-relational layer: fields, models, environments, the registry."""

from erpcore.orm import fields
from erpcore.orm.environment import Environment
from erpcore.orm.exceptions import AccessError, UserError, ValidationError
from erpcore.orm.models import Model

__all__ = ["AccessError", "Environment", "Model", "UserError", "ValidationError", "fields"]
