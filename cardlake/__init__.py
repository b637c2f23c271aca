"""The `cardlake` command line: the one place that starts local parts or reaches real ones."""
