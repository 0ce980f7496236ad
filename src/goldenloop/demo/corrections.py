"""Reviewers' corrected answers in the demo history.

For about 60% of the support-bot answers a reviewer graded 1 or 2 on correctness, that
reviewer also wrote the answer the bot should have given: the help-center policy for the
conversation's intent (the span's tag), saved at the time of the grade, as the review page
saves a correction together with its grades. SQL answers are left uncorrected (a reviewer
would have to write the query). The corrections are derived from the stored grades and
spans, so the same history gives the same corrections, and running this again adds none.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

SHARE = 0.6
APP = "support-bot"

# What a reviewer writes instead of a wrong answer, per intent: the help-center policy,
# without the order details the bot would have looked up.
CORRECTED: dict[str, tuple[str, ...]] = {
    "order_status": (
        "Your order's current status, carrier and tracking number are under Account > Orders. "
        "If it shows no movement for 3 business days, reply here and we'll open an "
        "investigation with the carrier.",
        "I've looked up your order: the status and tracking link are under Account > Orders, "
        "and the expected delivery date is shown there too.",
    ),
    "refund": (
        "Once your return reaches our warehouse, the refund goes back to your original payment "
        "method within 5-7 business days. You'll get an email as soon as it's issued.",
        "Refunds are issued after the returned item is checked in at our warehouse, to the "
        "original payment method, within 5-7 business days.",
    ),
    "shipping": (
        "Standard shipping takes 3-5 business days and is free over the threshold shown at "
        "checkout; express takes 1-2 business days.",
        "We ship within 1 business day. Standard delivery takes 3-5 business days, express "
        "1-2; the options and costs are shown at checkout.",
    ),
    "password_reset": (
        "Use 'Forgot password' on the sign-in page: we'll email you a reset link that works "
        "for 1 hour. Check your spam folder if it doesn't arrive within a few minutes.",
    ),
    "cancel_order": (
        "Orders can be cancelled under Account > Orders until they ship. Once shipped, you can "
        "return the parcel for a full refund instead.",
    ),
    "change_address": (
        "You can change the delivery address under Account > Orders until the order ships; "
        "after that, the carrier's tracking page lets you redirect the parcel.",
    ),
    "billing": (
        "Your invoices are under Account > Orders > Invoice. If you were charged twice, the "
        "second charge is a pre-authorisation that your bank releases within 3-5 days.",
    ),
    "product_question": (
        "The product page lists the size chart, materials and care instructions; if an item "
        "doesn't fit, you can return it within 30 days for free.",
    ),
    "promo_code": (
        "Promo codes are entered at checkout, one per order, and can't be applied after the "
        "order is placed. Check the code's end date and minimum order value in its email.",
    ),
    "account_delete": (
        "You can delete your account under Account > Privacy > Delete account. Open orders "
        "must be completed first; we confirm the deletion by email.",
    ),
    "out_of_scope": (
        "I can only help with Brightcart orders, shipping, returns and your account. For "
        "anything else, please contact the right service directly.",
    ),
}

_LOW = """
    SELECT g.grade_id, g.target_id, g.span_key, g.author_id, g.created_at, s.tags[1] AS intent
    FROM grades g JOIN spans s ON s.span_key = g.span_key
    WHERE g.source = 'human' AND g.criterion = 'correctness' AND g.target_type = 'span'
      AND g.value_number <= 2 AND s.app = ?
    QUALIFY row_number() OVER (PARTITION BY g.target_id ORDER BY g.created_at, g.grade_id) = 1
    ORDER BY g.grade_id"""


def correction_table(cur: duckdb.DuckDBPyConnection, seed: int) -> pa.Table:
    """Corrections for a share of the support-bot answers reviewers graded 1 or 2: one per
    span, by its first low grader, at the time of that grade."""
    low = cur.execute(_LOW, [APP]).fetchall()  # a few dozen rows: plain Python is enough
    rng = np.random.default_rng([seed, 37])
    keep = rng.random(len(low)) < SHARE
    variant = rng.integers(0, 2, len(low))
    rows = [(target_id, span_key, CORRECTED[intent][v % len(CORRECTED[intent])], who, at)
            for (_, target_id, span_key, who, at, intent), k, v in zip(low, keep, variant,
                                                                       strict=True)
            if k and intent in CORRECTED]
    names = ("target_id", "span_key", "corrected_output", "author_id", "created_at")
    types = (pa.string(), pa.int64(), pa.string(), pa.string(), pa.timestamp("us"))
    return pa.table({n: pa.array([r[i] for r in rows], t)
                     for i, (n, t) in enumerate(zip(names, types, strict=True))})


def insert_corrections(cur: duckdb.DuckDBPyConnection, seed: int) -> int:
    """Store the demo's corrections (after its grades); return how many were added. A
    correction already stored (same span, author and time) is not added again."""
    table = correction_table(cur, seed)
    if table.num_rows == 0:
        return 0
    cur.register("_demo_corrections", table)
    try:
        cur.execute(
            """INSERT INTO corrections (correction_id, target_type, target_id, span_key,
                                        corrected_output, author_id, queue_item_id, created_at,
                                        supersedes, retracted)
               SELECT nextval('correction_seq'), 'span', n.target_id, n.span_key,
                      n.corrected_output, n.author_id, NULL, n.created_at, NULL, false
               FROM (SELECT * FROM _demo_corrections ORDER BY created_at, target_id) n
               WHERE NOT EXISTS (SELECT 1 FROM corrections c
                                 WHERE c.target_type = 'span' AND c.target_id = n.target_id
                                   AND c.author_id = n.author_id
                                   AND c.created_at = n.created_at)""")
        return int(cur.fetchall()[0][0])
    finally:
        cur.unregister("_demo_corrections")
