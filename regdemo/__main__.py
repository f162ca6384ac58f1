import sys

from regdemo.cli import main

sys.exit(main())
