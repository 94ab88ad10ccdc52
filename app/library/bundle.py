"""A model and its projector, downloaded as one unit: both verified before either counts as installed.

The manifest (``app.gguf.manifest``) is written last and is what marks the pair installed: a crash
before it leaves, at worst, verified files that the next run recognises without downloading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.gguf.manifest import write_manifest
from app.library.disk import check_free_space, disk_error
from app.library.errors import Paused
from app.library.hub_file import HubFile
from app.library.partial import PartialFile
from app.library.progress import ProgressCallback
from app.library.retry import RetryCallback
from app.library.stop import StopCheck, StopControl
from app.library.transfer import Transfer, TransferOptions


@dataclass(frozen=True)
class InstalledBundle:
    model: Path
    projector: Path | None
    manifest: Path


class BundleDownload:
    """Downloads ``model`` then ``projector`` into ``dest_dir``, with one progress bar over both.

    ``pause()`` and ``cancel()`` work as on a :class:`Transfer`; a cancel with ``delete_partial``
    removes the partial files of both. ``on_retry`` hears of either file's waits between attempts.
    """

    def __init__(
        self,
        model: HubFile,
        projector: HubFile | None,
        dest_dir: Path,
        *,
        endpoint: str | None = None,
        token: str | None = None,
        on_progress: ProgressCallback | None = None,
        should_stop: StopCheck | None = None,
        options: TransferOptions | None = None,
        open_partial: Callable[[Path], PartialFile] = PartialFile,
        title: str = "",
        on_retry: RetryCallback | None = None,
    ) -> None:
        self.dest_dir = Path(dest_dir)
        self.title = title  # the name to list it under (a catalog entry's), kept in the manifest
        self.options = options or TransferOptions()
        self.on_progress = on_progress
        self._stop = StopControl(should_stop)
        self._completed = 0
        self._total = 0
        files = [model] if projector is None else [model, projector]
        self.transfers = [
            Transfer(
                file,
                self.dest_dir,
                endpoint=endpoint,
                token=token,
                on_progress=self._report,
                should_stop=self._stop.stopping,
                options=self.options,
                open_partial=open_partial,
                on_retry=on_retry,
            )
            for file in files
        ]

    @property
    def bytes_received(self) -> int:
        return sum(transfer.bytes_received for transfer in self.transfers)

    def pause(self) -> None:
        self._stop.pause()

    def cancel(self, *, delete_partial: bool = False) -> None:
        self._stop.cancel(delete_partial=delete_partial, discard=self.discard)

    def discard(self) -> None:
        for transfer in self.transfers:
            transfer.discard()

    def run(self) -> InstalledBundle:
        """Download and verify both files, then install them and write the manifest."""
        self._stop.set_running(True)
        try:
            resolved = [transfer.resolve() for transfer in self.transfers]
            self._total = sum(item.size for item in resolved)
            self.dest_dir.mkdir(parents=True, exist_ok=True)
            needed = sum(transfer.remaining_bytes() for transfer in self.transfers)
            name = self.transfers[0].file.filename
            check_free_space(self.dest_dir, needed, self.options.free_space_margin, name)
            self._completed = 0
            for transfer, item in zip(self.transfers, resolved, strict=True):
                try:
                    transfer.fetch(check_space=False)
                except Paused:
                    # The transfer stopped because this bundle was asked to: report it as the
                    # bundle's pause or cancel, which may also delete the other file's partial.
                    if self._stop.stopping():
                        self._stop.raise_stopped(self.discard)
                    raise
                self._completed += item.size
            paths = [transfer.install() for transfer in self.transfers]
            manifest = self._write_manifest(paths)
        finally:
            self._stop.set_running(False)
        return InstalledBundle(paths[0], paths[1] if len(paths) > 1 else None, manifest)

    def _report(self, done: int, _total: int, speed: float) -> None:
        if self.on_progress is not None:
            self.on_progress(self._completed + done, self._total, speed)

    def _write_manifest(self, paths: list[Path]) -> Path:
        entries: list[dict[str, Any]] = []
        for role, transfer, path in zip(("model", "projector"), self.transfers, paths, strict=False):
            resolved = transfer.resolve()
            entries.append(
                {
                    "role": role,
                    "path": path.relative_to(self.dest_dir).as_posix(),
                    "repo_id": resolved.file.repo_id,
                    "revision": resolved.file.revision,
                    "commit": resolved.commit,
                    "size": resolved.size,
                    resolved.digest.algorithm: resolved.digest.value,
                }
            )
        try:
            return write_manifest(paths[0], self.title, entries)
        except OSError as exc:
            raise disk_error(exc, paths[0].name) from exc


def download_bundle(
    model_file: HubFile, projector_file: HubFile | None, dest_dir: Path, **kwargs: Any
) -> InstalledBundle:
    """Download a model and its projector as one unit; keyword arguments are those of
    :class:`BundleDownload`."""
    return BundleDownload(model_file, projector_file, dest_dir, **kwargs).run()
