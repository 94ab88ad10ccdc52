"""The Models window and what drives it: the catalog with "fits your machine", the download queue,
installed models and imports. Adapts the Qt-free ``app.library`` core to Qt."""
