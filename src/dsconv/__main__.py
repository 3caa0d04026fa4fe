"""``python -m dsconv`` runs the command-line interface."""

import sys

from dsconv.cli import main

sys.exit(main())
