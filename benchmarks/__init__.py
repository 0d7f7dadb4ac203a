"""Speed and memory measurements (not tests); results in benchmarks/README.md."""
