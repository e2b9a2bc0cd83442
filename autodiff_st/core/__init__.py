"""The bottom layer: what every other layer may import, and which imports nothing of the package.

``errors`` holds the typed errors, ``registry`` the derivative and batching rules' registry,
``transform`` the base of the public transforms, ``model`` the Parameter and Cell types that the
run-time code recognizes, and ``hooks`` the one door through which run-time code asks the compiler for
a function's generated code.
"""
