"""Imported first thing by the extraction pool's forkserver process (a multiprocessing preload).

The forkserver outlives the process that started it as long as any worker
holds its "alive" pipe, and workers die with the forkserver, not with that
process: so the forkserver itself must die with its parent, SIGKILL included,
for the chain parent -> forkserver -> worker -> tool to end together.
"""

from comments.processes import die_with_parent

die_with_parent()
