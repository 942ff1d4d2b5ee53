"""python -m netchan.bench ROLE CONFIG_JSON: one measured end (the worker
that `netchan bench` starts; see CHILD_USAGE)."""
import sys

from netchan.bench import child_main

raise SystemExit(child_main(sys.argv[1:]))
