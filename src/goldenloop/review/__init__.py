"""Review: claiming queue items, showing them, submitting grades and corrections.

The grading screen's whole contract::

    claim = review.next_item(store, queue_id, "ana")        # None when nothing is left
    shown = review.payload(store, claim)                    # what to draw
    rubric = review.queue_rubric(store, queue_id)           # the questions
    review.renew(store, claim)                              # on every interaction
    review.submit(store, claim, {"correctness": 4, "tone": ["on-brand"]},
                  correction="...")                         # committed before returning
    review.skip(store, claim) / review.later(store, claim)
    review.asked(store, claim)                              # the criteria this item asks
    review.undo(store, queue_id, "ana")                     # the item comes back, with its picks
    review.queue_progress(store, queue_id); review.reviewer_progress(store, queue_id)
"""

from goldenloop.errors import QueueNotFound
from goldenloop.review.answers import Answer, GradeError
from goldenloop.review.asking import Asked, answers_of, asked, disputed, set_criteria
from goldenloop.review.claims import (
    DEFAULT_LOCK_SECONDS,
    Claim,
    ClaimLost,
    QueueClosed,
    later,
    next_item,
    release,
    renew,
    skip,
)
from goldenloop.review.gold import add_gold, gold_accuracy
from goldenloop.review.payload import (
    ComparisonPayload,
    ItemPayload,
    Message,
    Payload,
    SessionPayload,
    SpanPayload,
    Turn,
    other_grades,
    payload,
    payload_for,
)
from goldenloop.review.progress import (
    GradingProgress,
    QueueProgress,
    grading_progress,
    left_for,
    queue_progress,
    reviewer_progress,
)
from goldenloop.review.queues import Queue, close_queue, get_queue, known_reviewers, list_queues
from goldenloop.review.submit import (
    Submission,
    Undone,
    is_adjudication,
    queue_rubric,
    submit,
    submit_and_next,
    undo,
    undo_last,
)

__all__ = [
    "DEFAULT_LOCK_SECONDS", "Answer", "Asked", "Claim", "ClaimLost", "ComparisonPayload",
    "GradeError", "GradingProgress", "ItemPayload", "Message", "Payload", "Queue",
    "QueueClosed", "QueueNotFound", "QueueProgress", "SessionPayload", "SpanPayload",
    "Submission", "Turn", "Undone", "add_gold", "answers_of", "asked", "close_queue",
    "disputed", "get_queue", "gold_accuracy", "grading_progress", "is_adjudication",
    "known_reviewers", "later", "left_for", "list_queues", "next_item", "other_grades",
    "payload", "payload_for", "queue_progress", "queue_rubric", "release", "renew",
    "reviewer_progress", "set_criteria", "skip", "submit", "submit_and_next", "undo",
    "undo_last",
]
