"""Subcommands, one module each; `ALL` is what `hfcheck.cli` registers."""

from hfcheck.commands.audit import audit
from hfcheck.commands.backup import backup
from hfcheck.commands.crypt import crypt
from hfcheck.commands.demo import demo
from hfcheck.commands.hub import hub
from hfcheck.commands.repair import repair
from hfcheck.commands.restore import restore
from hfcheck.commands.verify import verify

ALL = [audit, backup, crypt, demo, hub, repair, restore, verify]
