"""Review queues by a stated sampling design (Poisson sampling, or a fixed size by randomised
systematic sampling), or by hand.

Every unit of the sampling frame (a filter and a time window over spans) is included
independently with its own inclusion probability: uniform, stratified by app and model
version, or raised for risky units. The frame, its population size, the design and its seed
are stored with the queue, and each item's probability, stratum and risk score with the
item, so ``goldenloop.estimation`` can estimate over all traffic without bias.
"""

from goldenloop.sampling.comparisons import (
    Output,
    Pair,
    create_pair_queue,
    create_version_comparison,
    item_reference_pairs,
)
from goldenloop.sampling.designs import (
    DEFAULT_RISK_WEIGHTS,
    RISK_SIGNALS,
    Design,
    RiskRaised,
    Stratified,
    Uniform,
)
from goldenloop.sampling.frame import (
    FRAME_KINDS,
    SamplingError,
    frame_from_dict,
    frame_to_dict,
    make_frame,
)
from goldenloop.sampling.preview import Preview, preview_queue
from goldenloop.sampling.queues import (
    QueueOptions,
    QueueSummary,
    add_to_queue,
    create_hand_queue,
    create_queue,
    queue_frame,
)

__all__ = [
    "DEFAULT_RISK_WEIGHTS", "FRAME_KINDS", "RISK_SIGNALS", "Design", "Output", "Pair",
    "Preview", "QueueOptions", "QueueSummary", "RiskRaised", "SamplingError", "Stratified", "Uniform",
    "add_to_queue", "create_hand_queue", "create_pair_queue", "create_queue",
    "create_version_comparison", "frame_from_dict", "frame_to_dict", "item_reference_pairs",
    "make_frame", "preview_queue", "queue_frame",
]
