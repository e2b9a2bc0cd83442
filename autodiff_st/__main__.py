"""``python -m autodiff_st``: see autodiff_st/cli.py."""

import sys

from .cli import main

sys.exit(main())
