"""The wire protocol: round trips and refusal of malformed lines."""

import pytest

from app.engine import protocol as p


def test_round_trip_of_every_message_kind():
    samples = [
        p.LoadModel(model_path="/m.gguf", context_length=4096),
        p.Generate(request_id="r", messages=[{"role": "user", "content": "hé ✓"}], settings={"top_k": 3}),
        p.Cancel(request_id="r"),
        p.Hello(protocol=p.PROTOCOL_VERSION, app_version="1", pid=3),
        p.Delta(request_id="r", text="a\nb", reasoning="c"),
        p.Done(request_id="r", stop_reason="end", completion_tokens=4),
        p.LoadFailed(model_path="x", reason="not_gguf", message="no"),
    ]
    for message in samples:
        line = message.encode()
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert p.decode(line) == message


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"[1, 2]",
        b'{"type": "nope"}',
        b'{"type": "cancel", "bogus": 1}',
        b'{"type": "load_model"}',
        b"\xff\xfe",
    ],
)
def test_malformed_lines_raise_protocol_error(line):
    with pytest.raises(p.ProtocolError):
        p.decode(line)
