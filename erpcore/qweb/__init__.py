"""QWeb, the template language of Odoo, on lxml.

Pure core: imports only the standard library, lxml and markupsafe, no HTTP or DB.
"""

from markupsafe import Markup

from .engine import QWeb
from .errors import QWebError
from .inherit import apply_inheritance
from .terms import extract_terms

__all__ = ["Markup", "QWeb", "QWebError", "apply_inheritance", "extract_terms"]
