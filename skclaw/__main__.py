import sys

from skclaw.cli import main

sys.exit(main())
