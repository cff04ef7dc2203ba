"""The boundary family: see kgen.families."""
