"""`python -m tunix_rt` is `tunix-rt`."""

from tunix_rt.cli import main

main()
