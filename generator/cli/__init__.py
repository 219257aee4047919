"""The ``portfolio`` command line: thin commands over ``generator.api``.

Each module registers its commands on the ``main`` group from ``common``; the
group imports a command's module when that command is asked for
(``common.COMMAND_MODULES``), so a command starts without loading the others.
"""

from generator.cli.common import main

__all__ = ["main"]
