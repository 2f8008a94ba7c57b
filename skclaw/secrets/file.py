"""The secrets file `wrangler deploy --secrets-file` reads: in memory on Linux, never left behind."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from skclaw.secrets.value import SecretValue


@contextmanager
def secrets_file(values: Mapping[str, SecretValue]) -> Iterator[Path]:
    """A file of the values as JSON, for `wrangler deploy --secrets-file`, gone afterwards however
    the deploy ends (signals included).

    On Linux it is a memfd handed over as ``/proc/<pid>/fd/<n>``: the values never touch a disk
    (``/dev/fd/<n>`` would not do: wrangler re-executes itself, and the child's fd table differs).
    Elsewhere a 0600 file in a 0700 temporary directory, removed on every exit path.
    """
    data = json.dumps({key: value.reveal() for key, value in values.items()}, ensure_ascii=False).encode("utf-8")
    if sys.platform.startswith("linux") and hasattr(os, "memfd_create"):
        fd = os.memfd_create("skclaw-secrets", os.MFD_CLOEXEC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            yield Path(f"/proc/{os.getpid()}/fd/{fd}")
        finally:
            os.close(fd)
        return
    directory = Path(tempfile.mkdtemp(prefix="skclaw-deploy-"))
    path = directory / "secrets.json"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)
