"""The history table in PostgreSQL: status records written once, read by event or notice.

    status_topic, status_partition, status_offset   the primary key: where the record was
                                                    read, so a record read again (the sink
                                                    crashed between the database commit and
                                                    the Kafka commit) is `ON CONFLICT DO
                                                    NOTHING`
    event_id, notice_number                         indexed: what `io-relay status` asks by
    rule, service, stage, outcome, at               for reading without opening the JSON
    record                                          the record as published, jsonb

psycopg's errors are translated here: a database that does not answer, or a connection that
broke, is TransientError (the sink tries again; the store reconnects on its next call); a
refused login is AuthenticationFault; anything else (a missing table, no privilege) is
FatalError. Their text passes through `scrub` first: libpq quotes a DSN it cannot parse, and
a DSN may hold a password.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from pydantic import ValidationError

from consumer.errors import AuthenticationFault, FatalError, TransientError
from consumer.history.records import Located
from consumer.history.settings import HistorySettings
from consumer.redact import mask
from consumer.report import StatusRecord

log = logging.getLogger(__name__)

_CREATE = """
CREATE TABLE IF NOT EXISTS {table} (
    status_topic text NOT NULL,
    status_partition integer NOT NULL,
    status_offset bigint NOT NULL,
    event_id text,
    notice_number text,
    rule text,
    service text,
    stage text NOT NULL,
    outcome text NOT NULL,
    at timestamptz NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (status_topic, status_partition, status_offset)
);
CREATE INDEX IF NOT EXISTS {by_event} ON {table} (event_id);
CREATE INDEX IF NOT EXISTS {by_notice} ON {table} (notice_number)
    WHERE notice_number IS NOT NULL;
"""
_INSERT = """
INSERT INTO {table} (status_topic, status_partition, status_offset, event_id, notice_number,
                     rule, service, stage, outcome, at, record)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)
ON CONFLICT DO NOTHING
"""
# The same order as consumer.history.records.order_key.
_RECORDS_OF = """
SELECT record::text FROM {table} WHERE event_id = %s
ORDER BY stage <> 'DELIVERY', at, status_partition, status_offset
"""
_EVENTS_OF_NOTICE = """
SELECT event_id FROM {table} WHERE notice_number = %s AND event_id IS NOT NULL
GROUP BY event_id ORDER BY min(at), event_id
"""
_URI_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_LOGIN_REFUSED = "28"  # SQLSTATE class 28: invalid authorization specification


def row(item: Located) -> tuple[object, ...]:
    """The table's columns of one record, in `_INSERT`'s order."""
    record = item.record
    # PostgreSQL's text and jsonb refuse the NUL character, and a record it refuses would
    # stop the history for good: NUL becomes the replacement character, in every column.
    return (
        item.topic,
        item.partition,
        item.offset,
        _text(record.event_id),
        _text(record.notice_number),
        _text(record.rule),
        _text(record.service),
        record.stage.value,
        record.outcome.value,
        record.at,
        item.raw.replace("\\u0000", "\\ufffd"),
    )


def _text(value: str | None) -> str | None:
    return None if value is None else value.replace("\x00", "\ufffd")


def scrub(text: str, dsn: str) -> str:
    """`text` without the DSN, its password or a fiscal code: one line, fit for a log."""
    secrets = [dsn]
    try:
        password = conninfo_to_dict(dsn).get("password")
    except psycopg.Error:
        password = None
    if isinstance(password, str) and password:
        secrets.append(password)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _URI_PASSWORD.sub(r"\1***@", text)
    first = text.strip().splitlines()[0] if text.strip() else "no detail"
    return mask(first)


def _readable(raw: str) -> StatusRecord | None:
    """A stored record, or None for one this version cannot read (a newer io-relay's)."""
    try:
        return StatusRecord.model_validate_json(raw)
    except ValidationError:
        log.warning("a stored status record this version cannot read was left out")
        return None


class HistoryStore:
    """One connection, opened on first use and again after it broke."""

    def __init__(self, settings: HistorySettings) -> None:
        if settings.dsn is None:
            raise FatalError("history.dsn is not set: there is no history database")
        self._dsn = settings.dsn.get_secret_value()
        self._timeout_s = settings.connect_timeout_s
        self._table = settings.table
        self._connection: psycopg.Connection[Any] | None = None

    def ensure_table(self) -> None:
        """Create the table and its indexes where missing."""
        statement = sql.SQL(_CREATE).format(
            table=sql.Identifier(self._table),
            by_event=sql.Identifier(f"{self._table}_event_id"),
            by_notice=sql.Identifier(f"{self._table}_notice_number"),
        )
        # Another sink making it at the same moment: IF NOT EXISTS races, and loses.
        with (
            self._translated("cannot create the history table") as connection,
            suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable),
        ):
            connection.execute(statement)

    def write(self, batch: Sequence[Located]) -> int:
        """Write the batch in one transaction; how many records were new."""
        if not batch:
            return 0
        statement = sql.SQL(_INSERT).format(table=sql.Identifier(self._table))
        with (
            self._translated("cannot write the history") as connection,
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            cursor.executemany(statement, [row(item) for item in batch])
            return max(cursor.rowcount, 0)

    def records_of(self, event_id: str) -> list[StatusRecord]:
        """Every record of the event: delivery first, then lifecycle, by time."""
        statement = sql.SQL(_RECORDS_OF).format(table=sql.Identifier(self._table))
        with self._translated("cannot read the history") as connection:
            found = connection.execute(statement, (event_id,)).fetchall()
        return [record for (raw,) in found if (record := _readable(raw)) is not None]

    def events_of_notice(self, notice_number: str) -> list[str]:
        """The events whose delivery records carry this notice number, the earliest first."""
        statement = sql.SQL(_EVENTS_OF_NOTICE).format(table=sql.Identifier(self._table))
        with self._translated("cannot read the history") as connection:
            found = connection.execute(statement, (notice_number,)).fetchall()
        return [str(event_id) for (event_id,) in found]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    @contextmanager
    def _translated(self, doing: str) -> Iterator[psycopg.Connection[Any]]:
        try:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(
                    self._dsn,
                    autocommit=True,
                    connect_timeout=self._timeout_s,
                    # A stuck database must not hold a SIGTERM (or `status`) for ever.
                    options=f"-c statement_timeout={int(self._timeout_s * 1000)}",
                )
            yield self._connection
        except psycopg.errors.UndefinedTable:
            raise FatalError(
                f"{doing}: no table {self._table} (history.table); `io-relay history` creates it"
            ) from None
        except psycopg.OperationalError as exc:
            self.close()
            detail = scrub(str(exc), self._dsn)
            if (exc.sqlstate or "").startswith(_LOGIN_REFUSED) or "authentication" in detail:
                raise AuthenticationFault(
                    f"PostgreSQL refused the login in history.dsn: {detail}"
                ) from None
            raise TransientError(f"{doing}: {detail}") from None
        except psycopg.Error as exc:
            raise FatalError(f"{doing}: {scrub(str(exc), self._dsn)}") from None
