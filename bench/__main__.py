"""Run every bench module and print a table, or one JSON object with --json."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import traceback
from pathlib import Path
from typing import Any


def modules() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--only", action="append", default=[], help="run only these modules")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    failed = []
    for name in modules():
        if args.only and name not in args.only:
            continue
        try:
            mod = importlib.import_module(f"bench.{name}")
            results.update(mod.run(quick=args.quick))
        except Exception:  # one broken bench must not hide the others' figures
            failed.append(name)
            traceback.print_exc()
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
    else:
        print(f"{'entry':<34} {'keilog':>14} {'reference':>14} {'ratio':>9}  unit / reference")
        for key in sorted(results):
            e = results[key]
            print(
                f"{key:<34} {e['keilog']:>14,.2f} {e['reference']:>14,.2f} {e['ratio']:>9.2f}"
                f"  {e['unit']} / {e['reference_name']}"
            )
            if "floor_name" in e:  # the physical floor some entries print beside
                floors = ", ".join(f"{k.removeprefix('floor_')} {v:,.2f}" for k, v in
                                   sorted(e.items()) if k.startswith("floor_") and
                                   isinstance(v, int | float))  # fmt: skip
                print(f"  floor: {floors} ({e['floor_name']})")
    if failed:
        print(f"bench modules failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
