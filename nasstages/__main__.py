"""``python -m nasstages`` is the ``nasstages`` command."""

import sys

from nasstages.cli import main

sys.exit(main())
