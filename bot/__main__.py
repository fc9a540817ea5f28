"""``python -m bot`` is ``hubbot``."""

import sys

from bot.cli import main

sys.exit(main())
