import sys

from erpcore.cli.main import main

sys.exit(main())
