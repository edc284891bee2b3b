"""Data access: a manifest of datasets (official URL, sha256, licence) and a data root.

Loaders call :func:`resolve` with a manifest name such as
``"materials/matbench_jdft2d.json.gz"``; it returns the path under the data root
(argument, else ``$SCIML_DATA_ROOT``, else ``data/``), verified against its sha256,
or raises a :class:`~sciml.errors.DataError` that names the file and how to get it.
"""

from sciml.data.manifest import (
    DataEntry,
    data_root,
    load_manifest,
    resolve,
    safe_join,
    verify,
)

__all__ = ["DataEntry", "data_root", "load_manifest", "resolve", "safe_join", "verify"]
