"""The span family: see kgen.families."""
