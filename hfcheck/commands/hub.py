"""`hfcheck hub serve`: the local Hugging Face Hub emulator."""

import click


@click.group()
def hub() -> None:
    """Run the local Hub emulator."""
