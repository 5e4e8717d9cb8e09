"""Raw upload archive: the shared archive (`territory.shared.archive`), which dead letters
use too for the originals too large to carry."""

from territory.shared.archive import (
    LocalArchive,
    RawArchive,
    S3Archive,
    archive_from_settings,
)

__all__ = ["LocalArchive", "RawArchive", "S3Archive", "archive_from_settings"]
