"""The concurrency family: see kgen.families."""
