import sys

from skelar.cli.main import main

sys.exit(main())
