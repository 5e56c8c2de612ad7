import sys

from crosstask.cli import main

sys.exit(main())
