"""The dashboard's library side: workspaces, effects, figures, views and the server's gates.

Importing it sets one process default for a server: the compiled kernels' worker threads sleep
as soon as a parallel loop ends (``OMP_WAIT_POLICY=PASSIVE``). OpenMP's default spins them for a
while, and between the many short parallel loops of a heavy forget they spun through the serial
parts: the process used twice the CPU time of its wall time (User 414's forget: 1.5 s of CPU in
0.78 s), taking the second core from the browser and from other visitors' page runs. Sleeping,
the same forget takes 0.94 s of CPU and no longer. Set only if unset, and only before the
threads first start (the first parallel loop): the app imports this before it trains anything.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
