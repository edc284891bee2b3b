"""When does `sciml materials predict` reach its peak memory? A trace of one run's RSS over time.

`/usr/bin/time -v` (benchmarks/materials_predict_memory.py) gives one peak per run, which cannot tell
a peak that grows with the number of structures from a transient that a longer run happens to catch.
This script runs the same command and reads the process's ``VmRSS`` and ``VmHWM`` (the kernel's exact
high-water mark) from ``/proc/<pid>/status`` every ``--interval`` seconds, so the record says when the
peak was set and whether anything after that raised it.

    python benchmarks/materials_predict_rss_trace.py --input /tmp/pm_lpft/jdft2d_x100000.csv.gz \
        --model-dir results/bench_materials_jdft2d_chgnet_lpft_stacking_clip/materials/folds/fold_0 \
        --threads 2 --batch-size 256 --out benchmarks/materials/chgnet_lpft_predict_rss_trace.json

(The inputs are those of benchmarks/materials_predict_memory.py: jdft2d's 636 structures repeated.)
Linux only (reads /proc). Appends one JSON object per run to ``--out`` (a list).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path


def status_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (KiB) of a running process; empty once it has exited."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def trace(cmd: list[str], interval: float, kill_after: float | None) -> dict[str, object]:
    """Run ``cmd``, sampling its memory; returns the samples and when the high-water mark was last raised."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples: list[tuple[float, int, int]] = []
    killed = False
    while proc.poll() is None:
        now = time.perf_counter() - start
        v = status_kib(proc.pid)
        if len(v) == 2:
            samples.append((round(now, 1), v["VmRSS"], v["VmHWM"]))
        if kill_after is not None and now > kill_after:
            proc.kill()
            killed = True
            break
        time.sleep(interval)
    out, _ = proc.communicate()
    wall = time.perf_counter() - start
    if not samples:
        raise SystemExit(f"no sample taken: {out[-2000:]}")
    peak = max(s[2] for s in samples)
    first_at_peak = next(s[0] for s in samples if s[2] == peak)
    return {"wall_s": round(wall, 1), "killed_after_s": kill_after if killed else None,
            "returncode": proc.returncode, "peak_hwm_mib": round(peak / 1024, 1),
            "peak_set_by_s": first_at_peak,
            "max_sampled_rss_after_peak_mib": round(max((s[1] for s in samples if s[0] > first_at_peak),
                                                        default=0) / 1024, 1),
            "last_line": out.strip().splitlines()[-1] if out.strip() else "",
            "samples_s_rss_hwm_kib": samples}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True, help="screening input (e.g. a CSV.gz from materials_predict_memory.py)")
    ap.add_argument("--model-dir", required=True, help="a trained fold folder")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    ap.add_argument("--kill-after", type=float, default=None, help="stop the run after this many seconds")
    ap.add_argument("--work", default="/tmp/predict_rss_trace", help="predict's output folder")
    ap.add_argument("--out", required=True, help="JSON list the run's record is appended to")
    args = ap.parse_args()
    cmd = ["sciml", "materials", "predict", "--model-dir", args.model_dir, "--input", args.input, "--out-dir",
           args.work, "--batch-size", str(args.batch_size), "--threads", str(args.threads), "--no-progress"]
    record = {"input": args.input, "model_dir": args.model_dir, "threads": args.threads,
              "batch_size": args.batch_size, "interval_s": args.interval,
              "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), **trace(cmd, args.interval, args.kill_after)}
    out = Path(args.out)
    runs = json.loads(out.read_text()) if out.is_file() else []
    runs.append(record)
    out.write_text("[\n" + ",\n".join(json.dumps(r) for r in runs) + "\n]\n")  # one line per run
    print(json.dumps({k: v for k, v in record.items() if k != "samples_s_rss_hwm_kib"}))


if __name__ == "__main__":
    main()
