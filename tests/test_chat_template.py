"""Prompts come from the GGUF's template, with known fallbacks and clear errors; a template that
never finishes or builds gigantic values is stopped by its budgets."""

import contextlib
import time

import pytest

from app.engine.chat_template import (
    MAX_TEMPLATE_CHARS,
    BrokenTemplateError,
    ChatFormatter,
    NoChatTemplateError,
    RenderBudget,
    TemplateRenderError,
    TemplateRunawayError,
    pick_template,
)
from app.engine.template_sandbox import TemplateRunaway, run_with_budget
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


# --- a template is foreign code: budgets ---------------------------------------------------------

QUICK = RenderBudget(seconds=0.5)
ENDLESS = (
    "{% for a in range(100000) %}{% for b in range(100000) %}{% for c in range(100000) %}"
    "{% endfor %}{% endfor %}{% endfor %}"
)
DOUBLING = (
    "{% set ns = namespace(s='ab') %}{% for i in range(28) %}{% set ns.s = ns.s OP ns.s %}{% endfor %}"
    "{{ ns.s }}"
)


def test_a_template_that_never_finishes_is_stopped_by_its_time_budget():
    started = time.perf_counter()
    with pytest.raises(TemplateRunawayError, match=r"does not finish: it was stopped after 0\.5 seconds"):
        ChatFormatter(ENDLESS, "", "", QUICK)
    assert time.perf_counter() - started < 2.0


def test_a_template_that_runs_away_only_on_longer_chats_is_stopped_at_that_render():
    template = "{% if messages | length > 1 %}" + ENDLESS + "{% endif %}{{ messages[-1].content }}"
    formatter = ChatFormatter(template, "", "", QUICK)  # the one-line check at load passes
    started = time.perf_counter()
    with pytest.raises(TemplateRunawayError, match="does not finish"):
        formatter.render([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    assert time.perf_counter() - started < 2.0
    assert formatter.render([{"role": "user", "content": "again"}]) == "again"  # nothing left pending


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 10**12 }}",
        "{{ 'x' * 10**6 * 10**6 }}",
        # Doubling, by ~ and by +: each step is small, the 29th is half a gigabyte.
        DOUBLING.replace("OP", "~"),
        DOUBLING.replace("OP", "+"),
        "{{ 'x'|center(10**12) }}",
        "{{ 'x'.ljust(10**12) }}",
        "{{ '{:>1000000000000}'.format(1) }}",
        "{{ '{:>{}}'.format(1, 10**12) }}",
        "{{ '%1000000000000d' % 1 }}",
        "{{ 'a\nb'|indent(10**12) }}",
        "{{ [1]|batch(10**12, 'x')|list }}",
        # Text made of one value many times over: 10 MB each, in one step.
        "{% set big = 'x' * 100000 %}{{ big.join(range(100)|map('string')) }}",
        "{% set big = 'x' * 100000 %}{{ range(100)|join(big) }}",
        "{% set big = 'x' * 1000000 %}{{ [big, big, big, big, big, big, big, big, big, big]|tojson }}",
        "{% set big = 'x' * 100000 %}{{ {}.fromkeys(range(100), big) }}",
        "{{ (2 ** 1000) ** 1000 }}",  # a number of a million bits
    ],
)
def test_a_template_that_builds_a_gigantic_value_is_refused_before_building_it(template):
    started = time.perf_counter()
    with pytest.raises(TemplateRunawayError, match="does not finish"):
        ChatFormatter(template, "", "", QUICK)
    assert time.perf_counter() - started < 0.4  # refused up front, not stopped by the clock


def test_a_template_that_grows_memory_in_many_small_steps_is_stopped():
    # Each step stays under the size budget; together they would take gigabytes.
    template = (
        "{% set big = 'x' * 3000000 %}{% set ns = namespace(kept=[]) %}"
        "{% for i in range(100000) %}{% set ns.kept = ns.kept + [big ~ i] %}{% endfor %}"
    )
    with pytest.raises(TemplateRunawayError, match="more than 64 MB of memory"):
        ChatFormatter(template, "", "", RenderBudget(seconds=30, memory_bytes=64 * 2**20))


def test_a_template_that_calls_itself_without_end_does_not_finish():
    with pytest.raises(TemplateRunawayError, match="calls itself without end"):
        ChatFormatter("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", "", "")


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("{% for m in messages %}{{ m.content ", "cannot be read"),
        ("{{ messages | no_such_filter }}", "No filter named"),
        ("{% if true %}" * 300 + "{% endif %}" * 300, "cannot be read"),
        ("x" * (MAX_TEMPLATE_CHARS + 1), "characters long"),
    ],
)
def test_a_template_that_cannot_be_compiled_is_a_clear_error(template, words):
    with pytest.raises(BrokenTemplateError, match=words):
        ChatFormatter(template, "", "")


def test_what_a_template_raises_reaches_the_user_short_and_printable():
    formatter = ChatFormatter("{{ raise_exception('No\n\x1b[31mway ' + 'x' * 100000) }}", "", "")
    with pytest.raises(TemplateRenderError) as caught:
        formatter.render([{"role": "user", "content": "x"}])
    message = str(caught.value)
    assert message.startswith("The model's chat template refused this conversation: No [31mway xxx")
    assert len(message) < 400 and message.isprintable()


def test_the_real_gemma4_template_renders_a_long_chat_within_its_budget():
    # Gemma 4's template is quadratic in the number of messages: the budget grows with it.
    chat = [{"role": ("user", "assistant")[i % 2], "content": f"message {i} " * 40} for i in range(400)]
    text = gemma4_formatter().render(chat)
    assert text.count("<|turn>user\n") == 200 and len(text) > 400 * 400


def test_a_budget_overrun_never_goes_off_after_the_render():
    # Renders that end right at their deadline: the interruption meant for them must not land in
    # the code that runs next.
    for step in range(20):
        with contextlib.suppress(TemplateRunaway):
            run_with_budget(lambda: _busy(0.05 + step / 1000), seconds=0.05, memory_bytes=2**30)  # noqa: B023
        _busy(0.1)  # would raise if an interruption were still pending


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
