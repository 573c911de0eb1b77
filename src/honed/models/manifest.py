"""A saved model's directory: the adapter's files (safetensors, ONNX, OpenVINO IR) plus a
versioned JSON manifest that names the adapter, the recipe that produced the model, and the
library versions it was saved with. ``ModelHandle.save`` writes it; ``honed.models.persist``
reads and checks it. Also the name and schema of the file an export carries beside it."""

from __future__ import annotations

from honed.core.documents import DocumentKind

MANIFEST = "honed-manifest.json"
MANIFEST_DOCUMENT = DocumentKind(
    "honed.model", 1, None, max_bytes=1 << 20, schema_key="format", version_key="format_version"
)
ARTIFACT = "artifact"
# What ``honed optimize -o`` writes beside a deployable artifact: the recipe that made it and how
# to load it (``honed.optimization.export``); a runtime that needs a load option reads it here.
EXPORT_FILE = "honed-export.json"
EXPORT_DOCUMENT = DocumentKind("honed.export", 1, "export", max_bytes=1 << 20)
