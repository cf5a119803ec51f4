import sys

from codeqa.cli import main

sys.exit(main())
