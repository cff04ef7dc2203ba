"""kgen scenario specs: schema, loader and typed model (kgen.spec).

The shipped specs live in suites/ beside this file.
"""
