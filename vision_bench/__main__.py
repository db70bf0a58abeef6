import sys

from vision_bench.cli import main

sys.exit(main())
