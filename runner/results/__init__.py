"""Results model and its readers and writers: KTAP, splats, JUnit, summary (kgen.runner.results)."""
