"""Subcommands, one module each; `ALL` is what `hfcheck.cli` registers."""

from hfcheck.commands.crypt import crypt
from hfcheck.commands.hub import hub

ALL = [crypt, hub]
