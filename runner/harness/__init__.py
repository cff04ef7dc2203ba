"""Drive a kernel tree's kunit.py, QEMU and the overlay build view (kgen.runner.harness)."""
