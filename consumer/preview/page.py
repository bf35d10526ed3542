"""One message as a self-contained page, laid out like the IO app's message detail: the
service, the subject, the due date, the text, the attachments, the payment box, and the
exact request body in a fold (templates/page.html).

Autoescaped throughout; the only markup is the markdown's, which markdown.py made from text
the rule's templates had escaped. Fiscal codes are masked wherever they would show.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from consumer.preview.labels import labels_for
from consumer.preview.markdown import to_html
from consumer.preview.messages import MessagePreview
from consumer.redact import mask

TEMPLATES = Environment(
    loader=PackageLoader("consumer.preview", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_page(preview: MessagePreview) -> str:
    return TEMPLATES.get_template("page.html").render(page_context(preview))


def render_index(rows: list[dict[str, str]]) -> str:
    """`rows`: page (its file name), rule, language, service, subject."""
    return TEMPLATES.get_template("index.html").render(rows=rows)


def page_context(preview: MessagePreview) -> dict[str, Any]:
    labels = labels_for(preview.language)
    content = preview.message.content
    remote = preview.content.remote if preview.content else None
    attachments = preview.content.attachments if preview.content else ()
    # With remote content, the opened message shows the remote subject and text.
    shown = remote or content
    payment = None
    if content.payment_data is not None:
        data = content.payment_data
        rows = [(labels.notice_number, data.notice_number)]
        if data.payee is not None:
            rows.append((labels.payee, data.payee.fiscal_code))
        payment = {"button": labels.pay.format(amount=labels.amount(data.amount)), "rows": rows}
    body = json.dumps(_masked(preview.message.to_json_body()), indent=2, ensure_ascii=False)
    return {
        "lang": preview.language[:2],
        "rule": preview.rule,
        "language": preview.language,
        "service": preview.service,
        "labels": labels,
        "subject": mask(shown.subject),
        "due": labels.due_on(content.due_date) if content.due_date else None,
        "text": Markup(to_html(shown.markdown)),  # noqa: S704 - markdown.py escapes
        "attachments": [mask(attachment.name) for attachment in attachments],
        "remote_note": labels.remote.format(subject=mask(content.subject)) if remote else None,
        "payment": payment,
        "body": body,
        "body_note": f"{labels.masked} {labels.sealed}" if preview.content else labels.masked,
    }


def _masked(value: Any) -> Any:
    """The body, each string masked as the reader would read it: markdown's escapes resolved
    first (a code spelled `RSS\\-MRA...` is one), the string as it is when it holds none."""
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if isinstance(value, str):
        read = _MARKDOWN_ESCAPE.sub(r"\1", value)
        masked = mask(read)
        return value if masked == read else masked
    return value


_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # CommonMark: any ASCII punctuation
