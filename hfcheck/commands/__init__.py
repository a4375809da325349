"""Subcommands, one module each; `ALL` is what `hfcheck.cli` registers."""

from hfcheck.commands.backup import backup
from hfcheck.commands.crypt import crypt
from hfcheck.commands.hub import hub
from hfcheck.commands.repair import repair
from hfcheck.commands.verify import verify

ALL = [backup, crypt, hub, repair, verify]
