"""Odoo's external API: XML-RPC and JSON-RPC, so that Odoo's clients and scripts work.

::

    endpoints   HTTP: body -> call -> answer, per URL (routed by the web addon)
      |- wire       XML-RPC / JSON-RPC in and out, bounds on what a call carries
      '- services   common (version, login, authenticate), db (list, server_version),
           |        object (execute_kw, execute): the sign-in door, then the method
           '- methods   search, search_read, read, fields_get, create, write, unlink...
                        on the ORM, as the caller, arguments checked
    errors      the faults a client sees: one clear line, Odoo's fault codes

The framework's part only: no addon is imported. Users, passwords and API
keys are the ``base`` addon's, reached through the environment
(``res.users._sign_in_check``), as any framework code reaches models.
"""
