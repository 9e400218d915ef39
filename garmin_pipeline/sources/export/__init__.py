"""Garmin's account export ("Export Your Data", the GDPR zip) as a source.

The export is a third way into the same raw, beside Garmin Connect and the Personal API: it is
pushed (a file the user downloads) rather than fetched, so it does not sit behind a `Feed`'s
fetchers, but it ends the same way. Each module does one job:

- `discovery`: open a zip or an unpacked directory, open the nested `UploadedFiles*.zip`, and
  classify every member by a pattern on its file name (never a fixed name or folder), streaming
  (an export runs to several GB) and quarantining zip bombs;
- `mapping`: convert the JSON members into the per-day payloads the API serves, in its shape
  and units, so each feed's one parser reads them (the table of what maps where is there);
- `fitlink`: link the uploaded FIT files (named by upload id) to activities by session start
  time and sport, and file the wellness uploads under their local day;
- `landing`: keep the archive in raw by its SHA-256, then put the payloads through `RawStore`
  (source `export:<sha256>:<member>`) under the precedence rules documented there: API payloads
  are kept, the newer export wins over an older one, and nothing is ever deleted.

After landing, the lake and warehouse are built from raw exactly as after a sync
(`garmin-pipeline import-export` runs the `rebuild` job over the days the export touched).
"""

from __future__ import annotations

from pathlib import Path

from garmin_pipeline.raw.store import RawStore
from garmin_pipeline.sources.export.discovery import ExportArchiveError, open_archive
from garmin_pipeline.sources.export.landing import (
    EXPORT,
    ImportReport,
    land_archive,
    summary_lines,
)


def import_archive(raw: RawStore, account: str, path: Path) -> ImportReport:
    """Land the export at `path` (a zip or a directory) in `raw` for `account`."""
    with open_archive(path) as archive:
        return land_archive(raw, account, archive)


__all__ = ["EXPORT", "ExportArchiveError", "ImportReport", "import_archive", "summary_lines"]
