"""`kgen run` and `kgen plan`: capabilities, plan, boots, recovery (kgen.runner.run)."""
