"""``python -m records.cli``: the same as the ``records`` command."""

from records.cli import main

main()

