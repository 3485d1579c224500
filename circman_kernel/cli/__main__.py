import sys

from circman_kernel.cli import main

sys.exit(main())
