"""cdp_bridge's models, one module per part of the app."""

from cdp_bridge.models.dashboard import Dashboard
from cdp_bridge.models.export import ExportRun
from cdp_bridge.models.schedule import ScheduleState
from cdp_bridge.models.segment_sizes import SegmentSize
from cdp_bridge.models.segments import Segment, SegmentGroup, SegmentMembership
from cdp_bridge.models.webhook import SnapshotPart, WebhookDelivery, WebhookSignature

__all__ = [
    "Dashboard",
    "ExportRun",
    "ScheduleState",
    "Segment",
    "SegmentGroup",
    "SegmentMembership",
    "SegmentSize",
    "SnapshotPart",
    "WebhookDelivery",
    "WebhookSignature",
]
