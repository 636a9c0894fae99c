"""`counsel privacy record`: the installation's record of processing (Art. 30 GDPR) for its data protection officer."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from counsel.clock import today
from counsel.services import privacy

privacy_group = AppGroup("privacy", help="Records for the data protection officer.")


@privacy_group.command("record")
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write the Markdown to this file instead of standard output.")
def privacy_record(output: Path | None) -> None:
    """Print the record of processing from the data inventory and the settings in force, as Markdown."""
    text = privacy.record(current_app.config["COUNSEL"], today())
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"Record of processing written to {output}.")
