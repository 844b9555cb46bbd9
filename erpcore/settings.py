"""Settings that addons declare: defaults in code, values in ``ir_config_parameter``.

An addon declares each of its settings once, at module level, with a key that
starts with the addon's name (Odoo's convention for configuration
parameters)::

    TERMS = Setting("sale.payment_terms_days", int, default=30, minimum=0,
                    env="ERPCORE_PAYMENT_TERMS", help="days a customer has to pay")

The registry offers the settings of its installed addons (:class:`Settings`).
A value is, in this order: the environment variable named by ``env`` when it
is set, the database row, the default. Values are cached per process and the
cache is dropped when the database's configuration sequence moves on, which
every ``set`` does: a value changed through one worker or with ``erpcore
config set`` is seen by every worker at its next request, with no restart.

A setting whose change must do more than store a value (record who changed
it, say) names the command that does it (``command=``); ``erpcore config
set`` refuses it and points there, and the addon changes it through
:meth:`Settings.set` itself.

The server's own settings (data directory, ports...) are not here: they are
:class:`erpcore.config.Config`, known before any database is opened.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from erpcore import db

#: every setting declared by code Python has imported, by key
_declared: dict[str, Setting] = {}


class SettingError(ValueError):
    """A setting is unknown or a value does not fit it; the message is one line."""


@dataclass(frozen=True)
class Setting:
    """One setting of an addon: its key, type, default and limits."""

    key: str
    type: type
    default: Any
    help: str = ""
    #: an environment variable that overrides the stored value when set
    env: str = ""
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    #: the command that changes this setting, when a change must do more than store
    #: the value (record who made it, say): ``erpcore config set`` then refuses it
    command: str = ""

    def __post_init__(self) -> None:
        if "." not in self.key or self.type not in (str, int, bool):
            raise ValueError(f"setting {self.key!r}: the key is ADDON.NAME and the type "
                             "str, int or bool")
        _declared[self.key] = self

    @property
    def addon(self) -> str:
        return self.key.split(".", 1)[0]

    def parse(self, text: str) -> Any:
        """The value written as *text* (the database's or a command line's form)."""
        text = text.strip()
        if self.type is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off", ""):
                return False
            raise SettingError(f"{self.key} is true or false, not {text[:40]!r}")
        if self.type is int:
            if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 12:
                raise SettingError(f"{self.key} is a whole number, not {text[:40]!r}")
            value = int(text)
            if self.minimum is not None and value < self.minimum:
                raise SettingError(f"{self.key} is at least {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise SettingError(f"{self.key} is at most {self.maximum}")
            return value
        if self.choices and text not in self.choices:
            raise SettingError(f"{self.key} is one of {', '.join(self.choices)}")
        if len(text) > 256 or any(ord(ch) < 32 for ch in text):
            raise SettingError(f"{self.key} is one line of at most 256 characters")
        return text

    def format(self, value: Any) -> str:
        if self.type is bool:
            return "true" if value else "false"
        return str(value)


class Settings:
    """The settings of the installed addons *addons*, with their cached values."""

    def __init__(self, addons: list[str]):
        self.declared = {key: setting for key, setting in sorted(_declared.items())
                         if setting.addon in addons}
        self._values: dict[str, Any] = {}
        self._sequence = -1
        self._lock = threading.Lock()

    def setting(self, key: str) -> Setting:
        try:
            return self.declared[key]
        except KeyError:
            raise SettingError(f"unknown setting {key!r} (see 'erpcore config get')") from None

    def refresh(self, sequence: int) -> None:
        """Forget the cached values when the configuration *sequence* moved on."""
        if sequence != self._sequence:
            with self._lock:
                self._values = {}
                self._sequence = sequence

    def overridden(self, key: str) -> bool:
        """Whether the environment sets *key*, whatever the database holds."""
        setting = self.setting(key)
        return bool(setting.env and os.environ.get(setting.env))

    def get(self, conn: Connection, key: str) -> Any:
        values = self._values
        if key not in values:
            values[key] = self._read(conn, self.setting(key))
        return values[key]

    def _read(self, conn: Connection, setting: Setting) -> Any:
        text = os.environ.get(setting.env) if setting.env else None
        if not text:
            text = db.get_parameter(conn, setting.key)
        if text is None:
            return setting.default
        try:
            return setting.parse(text)
        except SettingError as exc:
            raise SettingError(f"stored value of {exc}") from exc

    def set(self, conn: Connection, key: str, value: Any) -> Any:
        """Store *value* (a string is parsed) and make every worker read settings again."""
        setting = self.setting(key)
        parsed = setting.parse(value if isinstance(value, str) else setting.format(value))
        db.set_parameter(conn, key, setting.format(parsed))
        db.bump_config_sequence(conn)
        self._values = {}
        return parsed
