"""A sent picture at full size, in a window of its own: the original when Hearth kept one (a
photo scaled down for the model), read off the UI thread; it opens fitted to the window, and
zooms with Ctrl+wheel, + and −, 0 to fit and 1 for actual pixels."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QImage,
    QImageReader,
    QKeySequence,
    QPainter,
    QPixmap,
    QResizeEvent,
    QShortcut,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QDialog,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from app.storage.attachment_files import AttachmentFiles
from app.ui.background import BackgroundTasks

ZOOM_STEP = 1.25
MAX_ZOOM = 8.0


def read_picture(path: Path) -> QImage:
    """The picture at ``path`` (upright), else the stored copy it was made from, if any."""
    for candidate in (AttachmentFiles.original_of(path), path):
        if candidate is None:
            continue
        reader = QImageReader(str(candidate))
        reader.setAutoTransform(True)
        image = reader.read()
        if not image.isNull():  # Qt cannot read HEIC originals: their stored copy then
            return image
    raise ValueError(f"“{path.name}” could not be read as a picture.")


class _Canvas(QGraphicsView):
    def __init__(self, viewer: PictureViewer) -> None:
        super().__init__()
        self._viewer = viewer

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self._viewer.zoom(ZOOM_STEP if event.angleDelta().y() > 0 else 1 / ZOOM_STEP)
            event.accept()
            return
        super().wheelEvent(event)


class PictureViewer(QDialog):
    def __init__(self, path: Path, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(name)
        self.resize(1000, 760)
        self.scale = 1.0
        self.fitted = True
        self.scene = QGraphicsScene(self)
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene.addItem(self.item)
        self.canvas = _Canvas(self)
        self.canvas.setScene(self.scene)
        self.canvas.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.canvas.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.canvas.setAccessibleName(name)
        self.status = QLabel("Opening the picture…")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 6)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.status, 0, Qt.AlignmentFlag.AlignHCenter)
        for keys, action in (
            ((Qt.Key.Key_Plus, Qt.Key.Key_Equal), lambda: self.zoom(ZOOM_STEP)),
            ((Qt.Key.Key_Minus,), lambda: self.zoom(1 / ZOOM_STEP)),
            ((Qt.Key.Key_0,), self.fit),
            ((Qt.Key.Key_1,), lambda: self.zoom_to(1.0)),
        ):
            for key in keys:
                QShortcut(QKeySequence(key), self, action)
        self._tasks = BackgroundTasks(self)
        self._tasks.run(lambda: read_picture(path), self._shown, self._failed, "picture")

    def _shown(self, image: QImage) -> None:
        self.item.setPixmap(QPixmap.fromImage(image))
        self.scene.setSceneRect(self.item.boundingRect())
        self.fit()

    def _failed(self, error: BaseException) -> None:
        self.status.setText(str(error))

    def picture_size(self) -> tuple[int, int]:
        pixmap = self.item.pixmap()
        return pixmap.width(), pixmap.height()

    def fit(self) -> None:
        if not self.picture_size()[0]:
            return
        self.canvas.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)
        self.scale = min(1.0, self.canvas.transform().m11())
        self.zoom_to(self.scale)
        self.fitted = True

    def zoom(self, factor: float) -> None:
        self.zoom_to(self.scale * factor)

    def zoom_to(self, scale: float) -> None:
        width, height = self.picture_size()
        if not width:
            return
        self.scale = max(0.02, min(MAX_ZOOM, scale))
        self.fitted = False
        self.canvas.resetTransform()
        self.canvas.scale(self.scale, self.scale)
        self.status.setText(f"{width:,} × {height:,} pixels · {self.scale * 100:.0f}%")

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.fitted:
            self.fit()

    def done(self, result: int) -> None:
        self._tasks.close()
        super().done(result)
