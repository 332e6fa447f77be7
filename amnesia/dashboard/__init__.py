"""The dashboard's library side: workspaces, effects, figures, views and the server's gates.

The compiled kernels' threads sleep between parallel loops on a server as everywhere: the
package sets ``OMP_WAIT_POLICY=PASSIVE`` when imported (see :mod:`amnesia`).
"""
