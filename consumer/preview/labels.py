"""The app's own words around a message, in the languages IO's app speaks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency

from consumer.rules.helpers import ROME


@dataclass(frozen=True, slots=True)
class Labels:
    locale: Locale
    due: str
    pay: str
    notice_number: str
    payee: str
    attachments: str
    remote: str
    body: str
    masked: str
    sealed: str

    def due_on(self, timestamp: str) -> str:
        """The day on Rome's clock: IO's due date is an instant (UTC), 23:59:59 local."""
        day = datetime.fromisoformat(timestamp).astimezone(ROME).date()
        return self.due.format(date=format_date(day, format="long", locale=self.locale))

    def amount(self, cents: int) -> str:
        return format_currency(Decimal(cents) / 100, "EUR", locale=self.locale)


_ITALIAN = Labels(
    Locale.parse("it_IT"),
    due="Scade il {date}",
    pay="Paga {amount}",
    notice_number="Codice avviso",
    payee="Ente creditore",
    attachments="Allegati",
    remote=(
        "Contenuto remoto: l'app lo chiede a io-relay all'apertura del messaggio; "
        "nell'elenco dei messaggi si legge «{subject}»."
    ),
    body="Il messaggio inviato a IO",
    masked="I codici fiscali sono mascherati.",
    sealed="All'invio io-relay aggiunge third_party_data (id sigillato, configurazione).",
)
_BY_LANGUAGE = {
    "it": _ITALIAN,
    "de": Labels(
        Locale.parse("de_DE"),
        due="Fällig am {date}",
        pay="{amount} bezahlen",
        notice_number="Zahlungshinweis-Code",
        payee="Empfängerkörperschaft",
        attachments="Anhänge",
        remote=(
            "Entfernter Inhalt: Die App holt ihn beim Öffnen der Nachricht von io-relay; "
            "in der Nachrichtenliste steht „{subject}“."
        ),
        body="Die an IO gesendete Nachricht",
        masked="Steuernummern sind maskiert.",
        sealed=(
            "Beim Senden fügt io-relay third_party_data hinzu (versiegelte ID, Konfiguration)."
        ),
    ),
    "en": Labels(
        Locale.parse("en_GB"),
        due="Due on {date}",
        pay="Pay {amount}",
        notice_number="Notice code",
        payee="Creditor entity",
        attachments="Attachments",
        remote=(
            "Remote content: the app fetches it from io-relay when the message is opened; "
            "the message list reads “{subject}”."
        ),
        body="The message sent to IO",
        masked="Fiscal codes are masked.",
        sealed="At submit io-relay adds third_party_data (the sealed id, the configuration).",
    ),
}


def labels_for(language: str) -> Labels:
    """`it_IT`, `de_DE`, `en_GB`, ...: by the language part; Italian for any other."""
    return _BY_LANGUAGE.get(language.split("_", maxsplit=1)[0].lower(), _ITALIAN)
