"""Templates compiled once per machine rather than once per process.

Jinja compiles a template to Python the first time a process renders it:
every worker of every node, after every restart, pays for it again on its
first requests. Its bytecode cache keeps the compiled code in
:func:`~idp.infrastructure.cache_folder.cache_folder` ("templates"), keyed by
the template's path and checked against its source (a changed template is
compiled again), written atomically by Jinja. Each app has files of its own
(its import name in the file names): apps may configure Jinja differently."""

from __future__ import annotations

from flask import Flask
from jinja2 import FileSystemBytecodeCache

from idp.infrastructure.cache_folder import cache_folder


def init_app(app: Flask) -> None:
    app.jinja_env.bytecode_cache = FileSystemBytecodeCache(
        str(cache_folder("templates")), pattern=f"{app.import_name}-%s.cache")
