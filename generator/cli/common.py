"""The ``portfolio`` command group and what every command shares."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from generator import __version__
from generator.errors import ContentError, PortfolioError


def fail(exc: PortfolioError) -> None:
    raise click.ClickException(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="portfolio")
def main() -> None:
    """Build, issue and read Care Coordination Portfolio packs.

    Content lives as YAML in content/; packs are written as fillable PDF and
    Word files; completed copies are read back into records.
    """
    # pypdf logs what it repairs in damaged files; the reader turns what matters
    # into one clear error or warning, so its log lines would only be noise.
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)


CONTENT_OPTION = click.option(
    "--content", "content_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Content folder (default: the content shipped with the tool).")


def fail_problems(exc: ContentError, where: str = "found") -> None:
    """Print every problem on its own line, then fail with a count."""
    for problem in exc.problems:
        click.echo(str(problem), err=True)
    noun = "problem" if len(exc.problems) == 1 else "problems"
    raise click.ClickException(f"{len(exc.problems)} {noun} {where}") from None

