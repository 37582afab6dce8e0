"""``hwsim study``: the EfficientNet vs MobileNet deployment study (what ``make sim`` runs)."""

from __future__ import annotations

import argparse

from ..cli import add_fit_arg, add_target_args, check_fit, output_dir, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="EfficientNet vs MobileNet deployment study: table, report.md, plots",
                       description="Run EfficientNet-B0/B4@256/lite0 and MobileNet V1/V2/V3 under both placement "
                                   "policies plus what-if variants; write results.json, report.md and PNG plots.")
    add_target_args(p, policy=False, input_size=False)
    add_fit_arg(p)
    p.add_argument("--out", default="build/sim", help="output directory (default: build/sim)")
    p.add_argument("--json", action="store_true", help="print the table rows as JSON instead of text")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..config import load
    from ..study import format_table, run, table_rows
    from ..errors import HwsimError
    check_fit(load(args.board, args.accel, args.overrides, runtime=args.runtime), args.overrides, args.no_fit_check)
    out = output_dir(args.out)          # before minutes of simulation, not after
    try:
        study = run(out, board=args.board, accel=args.accel, overrides=tuple(args.overrides),
                    progress=not args.json, runtime=args.runtime)
        from ..trace import write_trace
        trace = write_trace(study.focus()["naive"], out / "trace.json")
    except OSError as e:
        raise HwsimError(f"--out {args.out!r}: cannot write {e.filename or 'the study'}: {e.strerror or e}") from None
    rows = table_rows(study.runs)
    if args.json:
        print_json({"board": study.board, "accel": study.accel, "out": str(out),
                    "runs": [dict(zip(rows[0], r)) for r in rows[1:]]})
        return 0
    print(format_table(rows))
    print()
    for w in study.what_ifs:
        r = w.estimate
        fit = "" if w.fit["fits"] else f"  does NOT fit ({', '.join(w.fit['over'])} over)"
        print(f"what-if {w.label:<58} {r.fps:6.2f} fps  latency {r.latency_ms:7.1f} ms{fit}")
    print()
    for x in study.runtimes:
        r, i = x.estimate, x.interaction
        print(f"runtime {x.runtime:<10} {x.variant:<37} {r.fps:6.2f} fps  latency {r.latency_ms:7.1f} ms  "
              f"PS<->PL interaction {i['total']:6.1f} ms ({100 * i['share']:2.0f}%)  host pre/post {i['host_pre_post']:.1f} ms")
    print(f"\nwrote {out}/report.md, results.json, breakdown.png, timeline.png, roofline.png, {trace.name}")
    return 0
