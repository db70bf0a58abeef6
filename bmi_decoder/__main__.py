import sys

from bmi_decoder.cli import main

sys.exit(main())
