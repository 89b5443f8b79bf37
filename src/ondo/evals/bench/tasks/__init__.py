"""Task families; each module defines ``TASKS`` (a list of ``Task``) and, for groups, ``GROUPS``."""

from __future__ import annotations

FAMILIES = ["arc", "hellaswag", "mmlu", "truthfulqa", "kmmlu", "haerae", "ko_hellaswag", "kornli"]
