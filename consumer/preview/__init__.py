"""What the citizen will see: each message an event (or a rule's example) makes, as a page
laid out like the IO app's message detail, and on request a phone-sized picture of it.

messages.py renders what the relay would send; markdown.py formats it as the app does;
page.py lays it out; folder.py writes the pages and their index; screenshot.py takes the
pictures with headless Chromium.
"""

from consumer.preview.folder import write_previews
from consumer.preview.messages import MessagePreview, preview_event, preview_examples
from consumer.preview.screenshot import take_screenshot

__all__ = [
    "MessagePreview",
    "preview_event",
    "preview_examples",
    "take_screenshot",
    "write_previews",
]
