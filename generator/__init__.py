"""Render validated specs into KUnit C for a kernel tree (kgen.generator)."""
