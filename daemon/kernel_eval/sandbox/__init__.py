"""Confinement of the processes that run user code (candidates, build-only processes, draft builds).

The parent decides a `Policy` (engine/spawn.py) and passes it in the child's environment. The child confines
itself with `confine.at_start()` before anything else runs, and narrows further with `confine.to_file()` once it
knows the one file it serves, before that file is imported. Both say what is in force as `Protection`s.
"""
