"""`python -m panel.cli`: the same as the `panel` command."""

from . import main

main()
