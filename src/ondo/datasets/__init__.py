"""Dataset versioning: content-addressed versions of files and rows, diffs, profiles, lineage.

The public API is ``ondo.data``; this package holds the parts, one job per module.
"""

from ondo.datasets.dataset import DatasetVersion
from ondo.datasets.diff import DatasetDiff
from ondo.datasets.verify import VerifyReport

__all__ = ["DatasetDiff", "DatasetVersion", "VerifyReport"]
