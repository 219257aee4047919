"""The ``portfolio`` command line: thin commands over ``generator.api``.

Each module registers its commands on the ``main`` group from ``common``;
importing this package registers them all.
"""

from generator.cli import pack, records, review, store, web  # noqa: F401  (register the commands)
from generator.cli.common import main

__all__ = ["main"]
