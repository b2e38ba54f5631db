"""dayledger benchmarks: load generator, seeding, server processes and the benchmarks.

Nothing here is a test: every benchmark prints figures and asserts nothing about speed.
"""
