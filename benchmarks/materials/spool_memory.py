"""Memory that screening's skipped and warned rows hold, in memory vs spooled to disk.

    python benchmarks/materials/spool_memory.py --sizes 10000 100000

Feeds N records, each with one pymatgen parser warning and one rejection, to the
:class:`~sciml.materials.validation.ParserWarnings` and :class:`~sciml.materials.validation.Quarantine`
that ``sciml materials predict`` uses, once holding the rows in memory (as before 2026-12-07) and once
spooling them to disk (``CsvSpool``, what predict does now); prints the Python memory still held
(tracemalloc) before the files are written. Both give byte-identical CSVs (tests/materials/test_validation.py).
"""

from __future__ import annotations

import argparse
import tempfile
import tracemalloc
from pathlib import Path

MESSAGE = "4 fractional coordinates rounded to ideal values to avoid issues with finite precision."


def held_mib(n: int, spool: bool, folder: Path) -> float:
    """MiB of Python memory held after ``n`` warned and rejected records (files written afterwards)."""
    from sciml.io import CsvSpool
    from sciml.materials.readers import RawRecord
    from sciml.materials.validation import PARSER_WARNING_COLUMNS, QUARANTINE_COLUMNS, ParserWarnings, Quarantine

    tracemalloc.start()
    warned = ParserWarnings(spool=CsvSpool(folder / "w.csv", PARSER_WARNING_COLUMNS) if spool else None)
    skipped = Quarantine(spool=CsvSpool(folder / "q.csv", QUARANTINE_COLUMNS) if spool else None)
    for k in range(n):
        record = RawRecord(f"mp-{k}", None, None, line=k + 2, parser_warnings=[MESSAGE])
        warned.add(record)
        skipped.add(record, f"unparsable: record {k} is not a CIF")
    held = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    warned.write(folder / "w.csv")
    skipped.write(folder / "q.csv")
    return held


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            print(f"{n} records: in memory {held_mib(n, False, Path(tmp)):.1f} MiB, "
                  f"spooled {held_mib(n, True, Path(tmp)):.1f} MiB")


if __name__ == "__main__":
    main()
