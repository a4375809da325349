"""`hfcheck crypt ...`: key generation, file and name encryption for people and scripts."""

import click


@click.group()
def crypt() -> None:
    """Encrypt and decrypt files and names with the archive key."""
