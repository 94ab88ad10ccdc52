"""Named presets: a system prompt with the generation settings that suit it, applied to a chat in
one step. A few good ones come with Hearth; the user edits, adds and removes them freely."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from app.core.generation import GenerationSettings


@dataclass(frozen=True)
class Preset:
    name: str
    system_prompt: str = ""
    settings: GenerationSettings = field(default_factory=GenerationSettings)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "system_prompt": self.system_prompt, "settings": self.settings.to_dict()}

    @classmethod
    def from_dict(cls, data: Any) -> Preset | None:
        """A preset from stored data; None if it has no usable name."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"].strip():
            return None
        prompt = data.get("system_prompt", "")
        settings = data.get("settings")
        return cls(
            data["name"].strip(),
            prompt if isinstance(prompt, str) else "",
            GenerationSettings.from_dict(settings if isinstance(settings, dict) else None),
        )

    def applied_to(self, settings: GenerationSettings) -> GenerationSettings:
        """A chat's settings with this preset's sampling and thinking; the chat keeps its context
        length and picture detail (they follow the model and the machine, not the task)."""
        ours = self.settings
        return replace(
            settings,
            temperature=ours.temperature,
            top_p=ours.top_p,
            top_k=ours.top_k,
            max_tokens=ours.max_tokens,
            think=ours.think,
        )


STARTING_PRESETS: tuple[Preset, ...] = (
    Preset("Balanced"),
    Preset(
        "Precise",
        "Answer accurately and concisely. If you are not sure, say so rather than guess.",
        GenerationSettings(temperature=0.2, top_p=0.9, top_k=40),
    ),
    Preset(
        "Think it through",
        "Work through the problem step by step before answering, and check your result.",
        GenerationSettings(temperature=0.6, think=True, max_tokens=4096),
    ),
    Preset(
        "Coding help",
        "You are an experienced programmer. Give working code in fenced code blocks with the language "
        "named, explain briefly why it works, and point out pitfalls.",
        GenerationSettings(temperature=0.3, top_p=0.9, max_tokens=4096),
    ),
    Preset(
        "Creative writing",
        "You are an imaginative writer with a vivid, varied style.",
        GenerationSettings(temperature=1.2, top_p=0.98, top_k=100),
    ),
    Preset(
        "Translator",
        "Translate what the user writes. If it is in English, translate it into French; otherwise into "
        "English. Give only the translation.",
        GenerationSettings(temperature=0.2),
    ),
)


def find_preset(presets: tuple[Preset, ...], name: str) -> Preset | None:
    return next((preset for preset in presets if preset.name == name), None)
