"""The local stack: moto as AWS, the template deployed into it, a gateway and Lambda runtime.

Its tools (the seed, the migration check) read the shared layer's field catalogue
(`hdcn_common`) exactly as the functions do, so the layer folder is importable here.
"""

import sys
from pathlib import Path

_LAYER = str(Path(__file__).resolve().parents[1] / "layer")
if _LAYER not in sys.path:
    sys.path.append(_LAYER)
