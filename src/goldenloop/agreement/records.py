"""The stored grades agreement reads, for other parts and the pages: which judge versions
graded a criterion.

This is the public surface of ``agreement.sql``: other parts use these names and never import
agreement's SQL module.
"""

from __future__ import annotations

from goldenloop.agreement.sql import judge_versions_of

__all__ = ["judge_versions_of"]
