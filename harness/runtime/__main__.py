import sys

from harness.runtime.daemon import main

sys.exit(main())
