import sys

from labhelpers.cli import main

sys.exit(main())
