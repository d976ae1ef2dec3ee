"""numba set-up shared by the kernels: the threading layer for ``parallel=True``.

The TBB layer numba finds next to open3d is too old (it warns, and a parallel kernel can crash in it); OpenMP
(libgomp) or numba's own workqueue serve. Import this module before the first parallel kernel runs.
"""

from __future__ import annotations

import numba as nb

if "tbb" in nb.config.THREADING_LAYER_PRIORITY:
    nb.config.THREADING_LAYER_PRIORITY = [x for x in nb.config.THREADING_LAYER_PRIORITY if x != "tbb"] + ["tbb"]
