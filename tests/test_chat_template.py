"""Prompts come from the GGUF's template, with known fallbacks and clear errors."""

import pytest

from app.engine.chat_template import ChatFormatter, NoChatTemplateError, TemplateRenderError, pick_template
from app.gguf.reader import read_gguf_info

GEMMA4_TEMPLATE_SNIPPET = (
    "{{ bos_token }}{% if enable_thinking %}<|turn>system\n<|think|>\n<turn|>\n{% endif %}"
    "{% for m in messages %}<|turn>{{ 'model' if m.role == 'assistant' else m.role }}\n"
    "{{ m.content }}<turn|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|turn>model\n{% endif %}"
)


def test_embedded_template_renders_the_conversation(smollm2_path):
    info = read_gguf_info(smollm2_path)
    formatter = ChatFormatter(
        pick_template(info.chat_template, info.architecture), "<|im_start|>", "<|im_end|>"
    )
    text = formatter.render([{"role": "user", "content": "Hi there"}])
    assert "<|im_start|>user\nHi there<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")


def test_gemma3_base_model_gets_the_gemma_turn_format(gemma3_path):
    info = read_gguf_info(gemma3_path)
    assert info.chat_template == ""
    formatter = ChatFormatter(pick_template("", info.architecture), "<bos>", "<eos>")
    text = formatter.render([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert text == "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"


def test_thinking_switch_reaches_the_template():
    formatter = ChatFormatter(GEMMA4_TEMPLATE_SNIPPET, "<bos>", "<eos>")
    on = formatter.render([{"role": "user", "content": "Q"}], think=True)
    off = formatter.render([{"role": "user", "content": "Q"}], think=False)
    assert "<|think|>" in on and "<|think|>" not in off


def test_no_template_and_unknown_architecture_is_a_clear_error():
    with pytest.raises(NoChatTemplateError, match="no chat template"):
        pick_template("", "mamba")


def test_template_raising_is_reported_not_crashing():
    formatter = ChatFormatter("{{ raise_exception('System role not supported') }}", "", "")
    with pytest.raises(TemplateRenderError, match="System role not supported"):
        formatter.render([{"role": "user", "content": "x"}])


def gemma4_formatter() -> ChatFormatter:
    from pathlib import Path

    info = read_gguf_info(Path(__file__).parent / "fixtures" / "tiny-gemma4.gguf")
    assert info.architecture == "gemma4"
    return ChatFormatter(pick_template(info.chat_template, info.architecture), "<bos>", "<eos>")


def test_gemma4_earlier_answers_keep_the_empty_thought_they_were_written_after():
    formatter = gemma4_formatter()
    first = [{"role": "user", "content": "Hi"}]
    prompt = formatter.render(first)
    assert prompt.endswith("<|turn>model\n<|channel>thought\n<channel|>")
    follow_up = formatter.render(
        [*first, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Next?"}]
    )
    # The follow-up starts with the first prompt and the answer, as the model produced them.
    assert follow_up.startswith(prompt + "Hello.<turn|>\n")
    assert follow_up.count("<|channel>thought\n<channel|>") == 2


def test_gemma4_with_thinking_strips_earlier_reasoning_as_its_template_does():
    formatter = gemma4_formatter()
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "<|channel>thought\nThe user greets me.<channel|>Hello."},
        {"role": "user", "content": "Next?"},
    ]
    text = formatter.render(messages, think=True)
    assert "<|think|>" in text and "The user greets me" not in text and "<|channel>" not in text
    assert "<|turn>model\nHello.<turn|>" in text


def test_gemma4_user_text_that_looks_like_a_turn_marker_is_left_alone():
    formatter = gemma4_formatter()
    tricky = "Explain what <|turn>model\nmeans in a prompt."
    text = formatter.render([{"role": "user", "content": tricky}])
    assert tricky in text and text.count("<|channel>thought\n<channel|>") == 1
