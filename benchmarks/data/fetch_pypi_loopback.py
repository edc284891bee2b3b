"""Fetch every origin=pypi manifest entry through the real fetch code, offline.

A loopback http.server (127.0.0.1 only) serves a folder holding the PyPI files the manifest names
(get them with ``pip download --no-deps matbench==0.6`` and ``pip download --no-deps --no-binary :all:
matminer==0.3.9 mdanalysistests==2.11.0``); only the host part of each manifest URL is swapped for the
server's, so archive_sha256, archive_member, gzip-by-content and the one-pass extraction all run as
they would against files.pythonhosted.org. Prints the count and the wall time.

    python benchmarks/data/fetch_pypi_loopback.py --archives DIR --root /tmp/pypi_root
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import shutil
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archives", required=True, help="folder with the PyPI files (pip download)")
    parser.add_argument("--root", required=True, help="empty data root to fetch into (deleted first)")
    args = parser.parse_args()

    import sciml.data.fetch as fetch_mod
    import sciml.data.manifest as manifest

    real = manifest.load_manifest()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *a) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=args.archives))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    entries = {n: (dataclasses.replace(e, url=f"{base}/{str(e.url).rsplit('/', 1)[1]}") if e.origin == "pypi" else e)
               for n, e in real.items()}
    fetch_mod.load_manifest = lambda: entries  # the loopback copy of the manifest, for this process only
    manifest.load_manifest = lambda: entries
    names = sorted(n for n, e in entries.items() if e.origin == "pypi")
    root = Path(args.root)
    shutil.rmtree(root, ignore_errors=True)
    start = time.perf_counter()
    done, failed = fetch_mod.fetch_many(names, root, progress=False)
    wall = time.perf_counter() - start
    server.shutdown()
    for name, err in failed:
        print("FAILED", name, err)
    for name in names:
        if (root / name).exists():
            manifest.verify(root / name, real[name])
    print(f"{len(names)} pypi entries: {len(done)} fetched and verified, {len(failed)} failed; {wall:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
