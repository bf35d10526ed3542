"""History: the status topic kept queryable in PostgreSQL, and read back by event or notice.

`io-relay history` runs the sink (sink.py) into the table (store.py); `io-relay status`
reads that table, or without one scans a bounded stretch of the status topic (scan.py).
"""

from consumer.history.records import Located, arranged
from consumer.history.settings import HistorySettings

__all__ = ["HistorySettings", "Located", "arranged"]
