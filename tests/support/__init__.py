"""Real local stand-ins shared by the tests and the benchmarks (bench/)."""
