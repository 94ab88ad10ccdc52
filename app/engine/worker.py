"""The inference worker process: reads protocol messages on stdin, answers on stdout.

Started by the UI's supervisor as ``<python> -m app --worker`` (or ``<frozen app> --worker``),
a fresh interpreter in the spawn style, so the same executable serves both roles. A reader
thread keeps listening while the main thread loads or generates, so Cancel arrives between two
tokens; end of stdin (the UI quit or died) ends the worker, so it never outlives the UI.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from app import __version__
from app.engine import protocol as p

if TYPE_CHECKING:
    from app.engine.remote_engine import RemoteRunner
    from app.engine.runner import ModelRunner

log = logging.getLogger("hearth.worker")

EXIT_GRACE_S = 3.0
# Once told to shut down, the worker saves the chat the cache holds: a large state takes a while.
SAVE_GRACE_S = 20.0


class Worker:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._write_lock = threading.Lock()
        self._inbox: queue.Queue[p.Message | None] = queue.Queue()
        self._cancelled: set[str] = set()
        self._current_request = ""
        self._runner: ModelRunner | None = None  # created on first load: importing llama.cpp takes a moment
        self._shutting_down = False
        self._remote: RemoteRunner | None = None  # a server answers instead of a local model

    def send(self, message: p.Message) -> None:
        data = message.encode()
        with self._write_lock:
            try:
                self._out.write(data)
                self._out.flush()
            except (BrokenPipeError, OSError):
                os._exit(0)  # the UI is gone; nobody is listening

    # --- stdin ----------------------------------------------------------------------------

    def read_forever(self, stream: BinaryIO) -> None:
        for line in stream:
            if not line.strip():
                continue
            try:
                self._receive(line)
            except Exception as exc:  # this thread must outlive any line, or the worker goes deaf
                log.exception("could not handle a line from the UI")
                self.send(p.Error(message=f"The worker could not handle a message: {exc}"))
        # stdin closed: the UI quit or crashed. Stop now, and make sure we really go (after
        # saving the chat, when told to shut down: a UI that died says nothing).
        self._cancelled.add("*")
        self._inbox.put(None)
        grace = SAVE_GRACE_S if self._shutting_down else EXIT_GRACE_S
        threading.Timer(grace, os._exit, args=(0,)).start()

    def _receive(self, line: bytes) -> None:
        """Act on one line: a bad one is answered with exactly one ``error`` record."""
        try:
            message = p.decode(line)
        except p.ProtocolError as exc:
            log.warning("bad message from UI: %s", exc)
            self.send(p.Error(message=f"Bad message: {exc}"))
            return
        if isinstance(message, p.Cancel):
            self._cancelled.add(message.request_id)
            if message.request_id == self._current_request:
                if self._runner is not None:
                    self._runner.request_stop()  # also ends a long prompt evaluation
                if self._remote is not None:
                    self._remote.request_stop()  # closes the server's answer at once
            return
        if isinstance(message, p.Shutdown):
            self._shutting_down = True
        self._inbox.put(message)

    # --- main loop ------------------------------------------------------------------------

    def greet(self) -> None:
        self.send(p.Hello(protocol=p.PROTOCOL_VERSION, app_version=__version__, pid=os.getpid()))

    def serve(self) -> None:
        while True:
            message = self._inbox.get()
            if message is None:
                return
            if isinstance(message, p.Shutdown):
                self._save_chat()  # the user quits: the chat resumes at once next time
                return
            try:
                self._handle(message)
            except Exception as exc:  # never die on one bad request
                log.exception("request failed")
                request_id = getattr(message, "request_id", "")
                if request_id:
                    self.send(p.GenerationFailed(request_id=request_id, message=str(exc)))
                else:
                    self.send(p.Error(message=str(exc)))

    def _handle(self, message: p.Message) -> None:
        if isinstance(message, p.LoadModel):
            self._load(message)
        elif isinstance(message, p.UnloadModel):
            if self._runner is not None:
                self._runner.unload()
            self._remote = None
            self.send(p.ModelUnloaded())
        elif isinstance(message, p.Generate):
            self._generate(message)
        elif isinstance(message, p.SaveChat):
            self.send(self._save_chat())
        elif isinstance(message, p.ForgetChat):
            if self._runner is not None:
                self._runner.forget_chat_state(message.chat)
        else:
            self.send(p.Error(message=f"The worker does not handle {message.type!r}."))

    def _save_chat(self) -> p.ChatSaved:
        runner = self._runner
        if runner is None:
            return p.ChatSaved()
        started = time.perf_counter()
        chat, size = runner.chat, runner.save_chat()
        return p.ChatSaved(
            chat=chat if size else "", bytes=size, save_ms=(time.perf_counter() - started) * 1000
        )

    def _get_runner(self) -> ModelRunner:
        if self._runner is None:
            from app.engine.runner import ModelRunner

            self._runner = ModelRunner()
        return self._runner

    def _load(self, message: p.LoadModel) -> None:
        """Load a model: every request ends in ``model_loaded`` or ``load_failed``, whatever
        goes wrong on the way, so the UI never waits for an answer that will not come."""
        from app.engine.model_check import LoadProblem, ModelLoadError

        name = Path(message.model_path).name
        try:
            self.send(self._load_model(message))
            return
        except ModelLoadError as exc:
            reason, words = str(exc.problem), exc.message
        except MemoryError:
            log.exception("out of memory while loading %s", message.model_path)
            reason = str(LoadProblem.NOT_ENOUGH_MEMORY)
            words = (
                f"There is not enough memory to load “{name}”. Close other programs, lower the "
                "context length, or pick a smaller model."
            )
        except Exception as exc:  # a bug or a file nobody foresaw: still an answer, in words
            log.exception("unexpected failure while loading %s", message.model_path)
            detail = f"{type(exc).__name__}: {exc}"
            reason = str(LoadProblem.LOAD_FAILED)
            words = (
                f"“{name}” could not be loaded because of an unexpected problem in Hearth's engine "
                f"({detail[:200]}). Try again, or pick another model."
            )
        self._forget_model()
        self.send(p.LoadFailed(model_path=message.model_path, reason=reason, message=words))

    def _load_model(self, message: p.LoadModel) -> p.ModelLoaded:
        if message.remote.url:
            return self._load_remote(message)
        self._remote = None
        runner = self._get_runner()
        started = time.perf_counter()
        last_sent = [-1.0]

        def progress(fraction: float) -> None:
            if fraction - last_sent[0] >= 0.02 or fraction >= 1.0:
                last_sent[0] = fraction
                self.send(p.LoadProgress(fraction=round(fraction, 3)))

        # A model Hearth downloaded has a manifest: its catalog name and the projector that came
        # with it (which need not sit next to it, or match its name).
        from app.gguf.manifest import read_manifest
        from app.gguf.projectors import projector_for

        recorded = read_manifest(Path(message.model_path))
        title = recorded.title if recorded else ""
        projector = message.projector_path
        if projector == "auto":
            found = projector_for(message.model_path)
            projector = str(found) if found else ""
        draft = message.draft_path
        if draft == "auto":
            from app.gguf.drafters import assistant_for

            found_assistant = assistant_for(message.model_path)
            draft = str(found_assistant) if found_assistant else ""
        runner.load(
            message.model_path,
            message.context_length,
            message.threads,
            progress,
            projector,
            gpu_layers=message.gpu_layers,
            projector_gpu=message.projector_gpu,
            states_folder=message.saved_chats_folder,
            states_cap=message.saved_chats_cap_mb * 2**20,
            draft_path=draft,
        )
        info = runner.info
        assert info is not None
        return p.ModelLoaded(
            model_path=message.model_path,
            name=message.display_name or title or info.name,
            architecture=info.architecture,
            context_length=runner.context_length,
            context_length_train=info.context_length,
            load_ms=(time.perf_counter() - started) * 1000,
            has_chat_template=bool(info.chat_template.strip()),
            projector_path=projector,
            **runner.capabilities,
            **runner.gpu,
            drafter=runner.drafter,
            draft_path=draft if runner.drafter else "",
            draft_problem=runner.draft_problem,
        )

    def _load_remote(self, message: p.LoadModel) -> p.ModelLoaded:
        from app.engine.model_check import LoadProblem, ModelLoadError
        from app.engine.remote_engine import RemoteError, RemoteRunner

        started = time.perf_counter()
        if self._runner is not None:
            self._runner.unload()  # the local model's memory is the user's again
        self._remote = None
        remote = RemoteRunner()
        server = message.remote
        try:
            model = remote.load(server.url, server.model, server.api_key, server.vision, server.audio)
        except RemoteError as exc:
            raise ModelLoadError(LoadProblem.LOAD_FAILED, str(exc)) from None
        self._remote = remote
        assert remote.address is not None
        return p.ModelLoaded(
            model_path=message.model_path,
            name=message.display_name or model.name,
            architecture="remote",
            context_length=model.context_length or message.context_length,
            context_length_train=model.context_length,
            load_ms=(time.perf_counter() - started) * 1000,
            has_chat_template=True,
            vision=model.vision,
            audio=model.audio,
            projector_path="",
            tools=False,
        )

    def _forget_model(self) -> None:
        """After a failed load no model is loaded, as the UI will believe: not even the previous
        one, or half of the new one."""
        if self._runner is None:
            return
        try:
            self._runner.unload()
        except Exception:
            log.exception("could not unload after a failed load")

    def _generate(self, message: p.Generate) -> None:
        from app.engine.runner import AnswerShape, MediaError, PromptTooLongError
        from app.engine.tool_grammar import GrammarError

        request_id = message.request_id
        if self._remote is not None:
            self._generate_remotely(message, self._remote)
            return
        runner = self._runner
        if runner is None or not runner.loaded:
            self.send(p.GenerationFailed(request_id=request_id, message="No model is loaded."))
            return
        cancelled = self._cancelled
        if request_id in cancelled:
            cancelled.discard(request_id)
            self.send(p.Done(request_id=request_id, stop_reason=p.StopReason.CANCELLED))
            return

        def should_stop() -> bool:
            return bool(cancelled) and (request_id in cancelled or "*" in cancelled)

        def on_text(answer: str, reasoning: str) -> None:
            self.send(p.Delta(request_id=request_id, text=answer, reasoning=reasoning))

        self._current_request = request_id
        if request_id in cancelled:  # a Cancel that raced with the start
            runner.request_stop()
        try:
            shape = AnswerShape(message.tools, message.tool_choice, message.response_schema)
            result = runner.generate(
                message.messages, message.settings, should_stop, on_text, shape, chat=message.chat
            )
        except (PromptTooLongError, MediaError, GrammarError) as exc:
            self.send(p.GenerationFailed(request_id=request_id, message=str(exc)))
            return
        finally:
            self._current_request = ""
            cancelled.discard(request_id)
        self.send(p.Done(request_id=request_id, **vars(result)))

    def _generate_remotely(self, message: p.Generate, remote: RemoteRunner) -> None:
        from app.engine.remote_engine import RemoteError

        request_id = message.request_id
        cancelled = self._cancelled
        if request_id in cancelled:
            cancelled.discard(request_id)
            self.send(p.Done(request_id=request_id, stop_reason=p.StopReason.CANCELLED))
            return

        def should_stop() -> bool:
            return bool(cancelled) and (request_id in cancelled or "*" in cancelled)

        def on_text(answer: str, reasoning: str) -> None:
            self.send(p.Delta(request_id=request_id, text=answer, reasoning=reasoning))

        self._current_request = request_id
        try:
            result = remote.generate(message.messages, message.settings, should_stop, on_text)
        except RemoteError as exc:
            self.send(p.GenerationFailed(request_id=request_id, message=str(exc)))
            return
        finally:
            self._current_request = ""
            cancelled.discard(request_id)
        self.send(p.Done(request_id=request_id, **vars(result)))


def _die_with_parent() -> None:
    """On Linux, have the kernel kill us if the UI process dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except OSError:
        pass
    if os.getppid() == 1:  # the parent died before we got here
        os._exit(0)


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="worker %(levelname)s: %(message)s")
    # A crash inside llama.cpp leaves the Python stacks on stderr, which the supervisor logs.
    faulthandler.enable(sys.stderr, all_threads=True)
    # The protocol owns the real stdout; anything else printing (Python or C) goes to stderr.
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in a terminal is for the UI to handle
    _die_with_parent()
    worker = Worker(out)
    worker.greet()  # before anything is read, so the greeting is always the first line out
    threading.Thread(target=worker.read_forever, args=(sys.stdin.buffer,), daemon=True).start()
    worker.serve()
    return 0
