"""Human evaluation: annotation queues, blind pairwise votes and rubric ratings, and agreement statistics."""

from __future__ import annotations

from ondo.evals.human.agreement import (
    agreement_report,
    cohen_kappa,
    fleiss_kappa,
    human_human_agreement,
    judge_human_agreement,
)
from ondo.evals.human.queues import (
    BlindItem,
    NewItem,
    Queue,
    VoteResult,
    agreement,
    agreement_from_file,
    cast_vote,
    create_queue,
    export,
    get_item,
    get_queue,
    judge_queue,
    list_queues,
    next_item,
    queue_from_file,
    queue_from_run,
    queue_from_traces,
    read_pandalm,
)

__all__ = [
    "BlindItem", "NewItem", "Queue", "VoteResult", "agreement", "agreement_from_file", "agreement_report",
    "cast_vote", "cohen_kappa", "create_queue", "export", "fleiss_kappa", "get_item", "get_queue",
    "human_human_agreement", "judge_human_agreement", "judge_queue", "list_queues", "next_item",
    "queue_from_file", "queue_from_run", "queue_from_traces", "read_pandalm",
]
