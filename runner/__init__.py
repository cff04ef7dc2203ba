"""Put generated tests into a kernel build, run kunit.py, report (kgen.runner).

One package per job, imported one way (harness/results -> run -> bench ->
validate); see docs/architecture.md:

  harness/   drive kunit.py, QEMU and the overlay build view of a tree
  results/   the results model, the KTAP parser, splats, JUnit, summary
  run/       `kgen run`: capabilities, plan, the boot session, recovery
  bench/     `kgen bench`: the benchmark lane and its statistics
  validate/  `kgen validate`: patch series, steps, classification, report
"""
