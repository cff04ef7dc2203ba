"""`kgen bench`: the benchmark lane, apart from the tests (kgen.runner.bench)."""
