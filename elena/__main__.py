"`python -m elena`: the `elena` command, where no console script is installed (`elena.slurm.elena_command` uses it)."
import sys
from elena.cli import main

sys.exit(main())
