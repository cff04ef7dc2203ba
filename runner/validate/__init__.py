"""`kgen validate`: a patch series step by step, classified (kgen.runner.validate)."""
