"""A 10-turn chat with images on turns 1, 4 and 7, through the real worker: time to first
token per turn, prompt tokens evaluated per turn, and how many times an image was encoded.
With no arguments it uses the tiny Gemma 4 test fixture (random weights, real mtmd paths). A
model without a projector runs the same chat without the images (text-only prefix reuse).
Prints one JSON object as its last line."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _harness import start_worker_with_model, wait_for
from PySide6.QtWidgets import QApplication

from app.core.generation import GenerationSettings
from app.engine.protocol import ChatTurn, MediaKind, MediaRef, Role

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
IMAGE_TURNS = (1, 4, 7)


def make_images(folder: Path) -> list[Path]:
    from PIL import Image, ImageDraw

    paths = []
    for index, color in enumerate(("#d94f30", "#2f7fd9", "#3cb371")):
        image = Image.new("RGB", (640, 480), "white")
        draw = ImageDraw.Draw(image)
        draw.ellipse((80 + 60 * index, 60, 420 + 40 * index, 400), fill=color)
        draw.text((20, 20), f"picture {index + 1}", fill="black")
        path = folder / f"picture-{index + 1}.png"
        image.save(path)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=str(FIXTURES / "tiny-gemma4.gguf"))
    parser.add_argument(
        "--mmproj", default="auto", help="projector file (default: the one next to the model)"
    )
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--tokens", type=int, default=16)
    args = parser.parse_args()
    _app = QApplication([])
    supervisor = start_worker_with_model(args.model, 4096, args.mmproj)
    assert supervisor.loaded_model is not None
    sees = supervisor.loaded_model.vision
    folder = Path(tempfile.mkdtemp(prefix="hearth-multiturn-"))
    images = iter(make_images(folder))
    messages: list[ChatTurn] = []
    ttft, evaluated, encodes = [], [], 0
    for turn in range(1, args.turns + 1):
        pictures = [MediaRef(MediaKind.IMAGE, str(next(images)))] if turn in IMAGE_TURNS and sees else []
        messages.append(ChatTurn(Role.USER, f"Turn {turn}: what do you notice now?", pictures))
        done: list = []
        failed: list = []
        text: list[str] = []
        supervisor.finished.connect(done.append)
        supervisor.generation_failed.connect(lambda _rid, msg, failed=failed: failed.append(msg))
        supervisor.delta.connect(lambda _rid, t, _r, text=text: text.append(t))
        supervisor.generate(
            f"turn-{turn}", messages, GenerationSettings(temperature=0.0, max_tokens=args.tokens)
        )
        wait_for(lambda done=done, failed=failed: done or failed, timeout_s=600)
        supervisor.finished.disconnect()
        supervisor.generation_failed.disconnect()
        supervisor.delta.disconnect()
        if failed:
            raise SystemExit(f"turn {turn} failed: {failed[0]}")
        result = done[0]
        ttft.append(round(result.ttft_ms, 1))
        evaluated.append(result.prompt_tokens_evaluated)
        encodes += result.media_encodes
        messages.append(ChatTurn(Role.ASSISTANT, "".join(text)))
    supervisor.stop()
    print(
        json.dumps(
            {
                "model": Path(args.model).name,
                "ttft_ms": ttft,
                "ttft_ratio_turn10_vs_turn2": round(ttft[-1] / ttft[1], 3) if len(ttft) >= 10 else None,
                "images": len(IMAGE_TURNS) if sees else 0,
                "image_encodes": encodes,
                "prompt_tokens_evaluated": evaluated,
            }
        )
    )


if __name__ == "__main__":
    main()
