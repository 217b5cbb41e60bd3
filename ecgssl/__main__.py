"""``python -m ecgssl`` runs the command line."""

import sys

from ecgssl.cli import main

sys.exit(main())
