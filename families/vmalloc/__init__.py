"""The vmalloc family: see kgen.families."""
