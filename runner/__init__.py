"""Put generated tests into a kernel build, run kunit.py, report (kgen.runner)."""
