"""Subcommands, one module each, named like the command it defines.

`hfcheck.cli` imports a command's module only when that command runs (or for `--help`), so
`verify` never pays for what `repair` or the emulator load. Their names: `hfcheck.cli.COMMANDS`
(the frame the commands are built on, which imports none of them).
"""
