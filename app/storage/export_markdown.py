"""One chat as Markdown to read: the branch on show, who said what and when, the reasoning folded
away, pictures shown and sounds linked from the archive's attachments folder."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import PureWindowsPath

from app.storage.chats import Attachment, Conversation, Message, MessageStatus
from app.storage.tool_records import ToolCallRecord

SPEAKERS = {"user": "You", "assistant": "Assistant", "system": "System"}
STATUS_NOTES = {
    MessageStatus.STREAMING: "This answer was still being written.",
    MessageStatus.STOPPED: "Stopped before the end.",
    MessageStatus.INTERRUPTED: "Interrupted before the end.",
    MessageStatus.ERROR: "This answer failed.",
}
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_UNSAFE_IN_NAME = re.compile(r"[^\w\- ]+")


def safe_title(title: str) -> str:
    """The letters, digits, spaces and dashes of ``title``, short: a file name any system takes."""
    return " ".join(_UNSAFE_IN_NAME.sub(" ", title).split())[:60].strip()


def chat_file_name(number: int, title: str) -> str:
    """``001-Title words.md``, numbered so the files keep the chats' order."""
    return f"{number:03d}-{safe_title(title) or 'Chat'}.md"


def render_chat(
    conversation: Conversation,
    branch: Sequence[Message],
    other_versions: Mapping[int, int],
    entries: Mapping[str, str | None],
    chat_file: str,
) -> str:
    """The Markdown of ``branch``. ``other_versions`` counts each message's alternatives;
    ``entries`` maps an attachment's sha256 to its archive entry (None: the file was missing);
    ``chat_file`` is this file's own entry, so links are relative to it."""
    lines = [f"# {conversation.title}", ""]
    details = [f"Started {_when(conversation.created_at)}"]
    if conversation.model_path:
        # Windows paths split at either slash, so a path from any system gives its file name.
        details.append(f"model {PureWindowsPath(conversation.model_path).name}")
    lines += [", ".join(details) + ".", ""]
    if conversation.system_prompt.strip():
        lines += ["**System prompt:**", "", *_quoted(conversation.system_prompt), ""]
    if not branch:
        lines += ["*This chat has no messages.*", ""]
    depth = chat_file.count("/")
    for message in branch:
        lines += _message(message, other_versions.get(message.id, 0), entries, "../" * depth)
    return "\n".join(lines).rstrip() + "\n"


def _message(message: Message, others: int, entries: Mapping[str, str | None], up: str) -> list[str]:
    speaker = SPEAKERS.get(message.role, message.role)
    lines = [f"## {speaker} · {_when(message.created_at)}", ""]
    if message.reasoning.strip():
        # Blank lines inside <details> let Markdown viewers render the reasoning as Markdown.
        lines += [
            "<details>",
            "<summary>Reasoning</summary>",
            "",
            *_closed(message.reasoning),
            "",
            "</details>",
        ]
        lines.append("")
    for call in message.tool_calls:
        lines += _tool_call(call)
    if message.content:
        lines += [*_closed(message.content), ""]
    for attachment in message.attachments:
        lines += [_attachment_link(attachment, entries.get(attachment.sha256), up), ""]
    note = STATUS_NOTES.get(message.status)
    if note:
        lines += [f"*{note}*", ""]
    if others:
        what = (
            "question" if message.role == "user" else "answer" if message.role == "assistant" else "message"
        )
        versions = "1 other version" if others == 1 else f"{others} other versions"
        verb = "is" if others == 1 else "are"
        lines += [f"*({versions} of this {what} {verb} in hearth.json.)*", ""]
    return lines


def _tool_call(call: ToolCallRecord) -> list[str]:
    arguments = json.dumps(call.arguments, ensure_ascii=False)
    fence = "~~~~" if "~~~" in call.result else "~~~"
    return [
        "<details>",
        f"<summary>Tool: {call.name} ({call.state}, {call.elapsed_ms:.0f} ms)</summary>",
        "",
        f"Arguments: `{arguments}`" if "`" not in arguments else f"Arguments: {arguments}",
        "",
        fence,
        *call.result.rstrip("\n").split("\n"),
        fence,
        "",
        "</details>",
        "",
    ]


def _attachment_link(attachment: Attachment, entry: str | None, up: str) -> str:
    label = _escape_label(attachment.name)
    if entry is None:
        return f"*({label} was missing when this chat was exported.)*"
    if attachment.kind == "image":
        return f"![{label}]({up}{entry})"
    what = "Sound" if attachment.kind == "audio" else "Document"
    return f"[{what}: {label}]({up}{entry})"


def _closed(text: str) -> list[str]:
    """The lines of ``text``, with a code block left open (an answer stopped mid-code) closed, so
    the rest of the chat does not turn into code."""
    lines = text.rstrip("\n").split("\n")
    open_fence = None
    for line in lines:
        match = _FENCE.match(line)
        if match and (open_fence is None or match.group(1) == open_fence):
            open_fence = match.group(1) if open_fence is None else None
    return [*lines, open_fence] if open_fence else lines


def _quoted(text: str) -> list[str]:
    return [f"> {line}".rstrip() for line in text.rstrip("\n").split("\n")]


def _escape_label(text: str) -> str:
    return re.sub(r"([\\\[\]])", r"\\\1", text)


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))
