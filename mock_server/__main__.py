"""`python -m mock_server`: the same as the `brightpearl-mock` command."""

from .cli import main

main()
