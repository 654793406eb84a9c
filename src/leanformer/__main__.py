"""``python -m leanformer``: the CLI, where no console script is installed (a source checkout on PYTHONPATH)."""

import sys

from leanformer.cli.main import main

sys.exit(main())
