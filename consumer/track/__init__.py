"""Track: follow each message IO accepted until IO says what became of it.

    record      what the tracking topic holds for one message (keyed by its IO id)
    schedule    when to ask IO next, and when to give up
    judge       an answer of getMessage against what was already published: the changes
    book        the records read back from the tracking topic, held until they are due
    tracker     one check: ask IO, judge the answer

Nothing here knows Kafka: the runtime reads and writes the tracking topic.
"""

from consumer.track.book import Held, TrackingBook
from consumer.track.judge import Step, judge
from consumer.track.record import Seen, TrackingRecord, start_tracking
from consumer.track.schedule import TrackingSchedule
from consumer.track.tracker import Tracker

__all__ = [
    "Held",
    "Seen",
    "Step",
    "Tracker",
    "TrackingBook",
    "TrackingRecord",
    "TrackingSchedule",
    "judge",
    "start_tracking",
]
