"""A process forked after a multi-piece frame scan can scan again (a user's script using
multiprocessing's fork start method, Linux's default in Python 3.11). The scan's thread pool is
made again in the child: the parent's pool threads do not exist there, and work handed to the
inherited pool would wait for them for ever."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import os, time
    import numpy as np
    from pe_search.store import frame_codes

    frame_codes.SCAN_PIECE = 100  # three pieces: the scan goes through the thread pool
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((300, 8)).astype(np.float32)
    query = np.zeros(8, np.float32)
    query[0] = 1.0
    coded = frame_codes.encode(vectors, "f32")
    expected = sorted(np.flatnonzero(vectors[:, 0] > 0.5).tolist())

    def scan():
        found, _ = frame_codes.frames_above("f32", 8, coded.params, coded.codes, query, 0.5)
        return sorted(found.tolist())

    assert scan() == expected  # the parent's pool threads now exist
    child = os.fork()
    if child == 0:
        os._exit(0 if scan() == expected else 3)
    for _ in range(600):  # a hang guard (60 s), not a judge of speed: the scan takes milliseconds
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            raise SystemExit(os.waitstatus_to_exitcode(status))
        time.sleep(0.1)
    os.kill(child, 9)
    raise SystemExit("the forked child's scan hung")
    """
)


def test_a_forked_child_scans_frames_after_its_parent_did():
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
