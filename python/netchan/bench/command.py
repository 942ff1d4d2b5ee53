"""`netchan bench MODE`: check the arguments, place the ends, run netchan's
turn then the kernel's, print the report."""
from __future__ import annotations

import json
import sys

from netchan.bench import links, options, report, runner


def run(args) -> int:
    options.check(args)
    mode = args.mode
    cpus = links.rps_cpus(args, runner.cpus_of(args))
    choice = "none" if args.kernel == "none" else runner.kernel_choice(args, mode)
    testbed = rps = None
    if args.testbed:
        from netchan.testbed import TestbedError, check_privileges
        try:
            check_privileges()
            rps = links.testbed_rps(args, cpus)
            testbed = links.make_testbed(links.testbed_offload(args), args.kernel_cc, rps)
        except TestbedError as e:
            raise ValueError(f"--testbed: {e}") from None
    display = report.Display(mode, quiet=args.json)
    try:
        layout = links.testbed_layout(args, testbed, rps) if testbed else links.local_layout(args)
        display.begin(f"netchan, {layout.link}", args.time)
        nc = runner.netchan_turn(args, mode, layout, cpus, display.interval)
        display.end(nc)
        kr = None
        if choice != "none":
            display.begin(f"{layout.kernel_label} ({choice})", args.time)
            kr = runner.kernel_turn(args, mode, layout, cpus, choice, display.interval)
            display.end(kr)
    except BaseException:
        display.abort()
        raise
    finally:
        if testbed is not None:
            testbed.down()
        links.remove_own_shm(args)
    rt = report.ratio(mode, nc, kr)
    if args.json:
        print(json.dumps(report.to_json(mode, args, layout, nc, kr), indent=2))
    elif rt is not None:
        print(report.ratio_line(mode, rt, nc, kr))
    if args.plot:
        report.plot(args.plot, mode, nc, kr)
        if not args.json:
            print(f"plot: {args.plot}")
    for r in (nc, kr):
        if r and r.get("sha256") and not r["sha256"]["match"]:
            print(f"netchan bench: --verify: {r['label']}: the bytes received differ from "
                  f"the bytes sent (sha256)", file=sys.stderr)
            return 1
    return 0
