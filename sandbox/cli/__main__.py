"""``python -m sandbox.cli ARGS`` = ``reward-sandbox ARGS``."""

import sys

from sandbox.cli import main

sys.exit(main())
