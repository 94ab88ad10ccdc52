"""Installed models: scanning real GGUF files, pairing projectors, imports, deletion; the catalog."""

from __future__ import annotations

import json
import shutil

from app.library.catalog import load_catalog, parse_catalog
from app.library.installed import ModelRegistry, delete_installed, scan_installed


def test_scan_finds_real_models_and_skips_broken_files(tmp_path, smollm2_path, gemma3_path, truncated_gguf):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(smollm2_path, models / smollm2_path.name)
    shutil.copy(truncated_gguf, models / "broken.gguf")
    (models / "notes.gguf").write_text("not a model")
    registry = ModelRegistry(tmp_path)
    registry.add_import(gemma3_path, None)
    registry.record_use(gemma3_path)
    found = scan_installed(models, registry, include_hf_cache=False)
    assert [m.architecture for m in found] == ["gemma3", "llama"]  # most recently used first
    assert found[0].source == "imported" and found[0].last_used > 0
    assert found[1].source == "downloaded" and found[1].size_bytes == smollm2_path.stat().st_size
    assert not found[1].vision and found[1].projector is None


def test_delete_removes_downloads_but_only_forgets_imports(tmp_path, smollm2_path, gemma3_path):
    models = tmp_path / "models"
    models.mkdir()
    copy = models / smollm2_path.name
    shutil.copy(smollm2_path, copy)
    registry = ModelRegistry(tmp_path)
    registry.add_import(gemma3_path, None)
    found = scan_installed(models, registry, include_hf_cache=False)
    downloaded = next(m for m in found if m.source == "downloaded")
    imported = next(m for m in found if m.source == "imported")
    assert delete_installed(downloaded, found) == [copy] and not copy.exists()
    assert delete_installed(imported, found) == [] and gemma3_path.exists()


def test_catalog_parsing_tolerates_missing_and_unknown_fields(tmp_path):
    data = {
        "schema_version": 1,
        "models": [
            {
                "id": "ok",
                "repo_id": "org/repo",
                "files": {
                    "model": {"name": "m.gguf", "size": 10, "sha256": "a" * 64},
                    "projector": {"name": "p.gguf", "size": 5},
                },
                "capabilities": ["text", "vision"],
                "future_field": 1,
            },
            {"id": "no-files", "repo_id": "org/repo"},
        ],
    }
    entries = parse_catalog(data)
    assert [e.id for e in entries] == ["ok"]
    assert entries[0].download_size == 15 and entries[0].projector.sha256 is None
    model, projector = entries[0].hub_files()
    assert model.revision == "main" and model.sha256 == "a" * 64 and projector.filename == "p.gguf"
    broken = tmp_path / "catalog.json"
    broken.write_text("{not json")
    assert load_catalog(broken) == []
    broken.write_text(json.dumps(data))
    assert len(load_catalog(broken)) == 1


def test_a_download_in_a_subfolder_finds_the_projector_its_manifest_names(tmp_path, smollm2_path):
    from app.gguf.manifest import Manifest, read_manifest

    repo = tmp_path / "models" / "someone" / "repo"
    (repo / "Q4").mkdir(parents=True)
    model = repo / "Q4" / "model.gguf"
    shutil.copyfile(smollm2_path, model)
    (repo / "mmproj.gguf").write_bytes(b"GGUF")
    manifest = {
        "version": 1,
        "title": "Some Model · Q4",
        "files": [{"role": "model", "path": "Q4/model.gguf"}, {"role": "projector", "path": "mmproj.gguf"}],
    }
    (repo / "Q4" / "model.gguf.manifest.json").write_text(json.dumps(manifest))
    assert read_manifest(model) == Manifest("Some Model · Q4", repo / "mmproj.gguf")
    (repo / "Q4" / "model.gguf.manifest.json").write_text(
        json.dumps({"files": [{"role": "model", "path": 3}]})
    )
    assert read_manifest(model) is None  # a damaged manifest is ignored, never a crash
