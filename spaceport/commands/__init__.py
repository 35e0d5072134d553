"""The `spaceport` subcommands, one module per group: each module's `register(commands)` adds its
parsers (with `set_defaults(handler=...)`), and each handler takes the parsed arguments and
returns an exit code (spaceport/commands/common.py)."""
