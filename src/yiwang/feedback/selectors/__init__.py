"""Reads of 好差评 for pages, the API and other apps, one module per concern.

- ``results``: periods and satisfaction summed from the tallies;
- ``comments``: published comments;
- ``case_rating``: a case's rating and its rectification;
- ``visits``: counter visits and invitations to rate;
- ``queues``: the supervisors' and departments' desk queues (staff pages only).

Objects a user may not reach are fetched so that missing and forbidden look
the same (404). The public reads are importable from here, the app's public
face; the desk queues are imported from ``queues``.
"""

from yiwang.feedback.selectors.case_rating import CaseRating, case_rating, rating_of_case
from yiwang.feedback.selectors.comments import COMMENTS_LIMIT, PublishedComment, published_comments
from yiwang.feedback.selectors.results import (
    Period,
    PeriodError,
    Satisfaction,
    department_choices,
    department_results,
    overall,
    period_of,
    results,
    total_of,
)
from yiwang.feedback.selectors.visits import TOKEN_MAX, is_rated, live_invitation, visit_to_rate

__all__ = [
    "COMMENTS_LIMIT",
    "TOKEN_MAX",
    "CaseRating",
    "Period",
    "PeriodError",
    "PublishedComment",
    "Satisfaction",
    "case_rating",
    "department_choices",
    "department_results",
    "is_rated",
    "live_invitation",
    "overall",
    "period_of",
    "published_comments",
    "rating_of_case",
    "results",
    "total_of",
    "visit_to_rate",
]
