"""Agreement between LLM judges and human reviewers, and among reviewers.

Statistics are chosen by the criterion's value type (``report.STATISTICS``); every figure
comes with n and a cluster-bootstrap interval. Start with ``criterion_agreement`` (one
criterion, from the store) or ``agreement_for`` (a frame of pairs you built yourself).
"""

from goldenloop.agreement.api import CriterionAgreement, criterion_agreement, overview
from goldenloop.agreement.multi import consensus, human_agreement, judge_vs_consensus
from goldenloop.agreement.report import STATISTICS, agreement_for, confusion
from goldenloop.agreement.scale import AgreementError, Scale
from goldenloop.agreement.slices import SMALL_SLICE, slice_agreement

__all__ = [
    "SMALL_SLICE",
    "STATISTICS",
    "AgreementError",
    "CriterionAgreement",
    "Scale",
    "agreement_for",
    "confusion",
    "consensus",
    "criterion_agreement",
    "human_agreement",
    "judge_vs_consensus",
    "overview",
    "slice_agreement",
]
