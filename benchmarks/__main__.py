"""``python -m benchmarks [--quick]``: run the suite, print the table, write RESULTS.md."""

from benchmarks.run import main

main()
