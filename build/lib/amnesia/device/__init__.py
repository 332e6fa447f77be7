"""On-device recommendations: the item-based model exported to ONNX, scored in the visitor's browser.

``export_onnx(model, path, neighbours=K, catalog=...)`` writes the scoring graph and its JSON
sidecar; ``build_device_model`` does the same in memory. No Streamlit import here: the page
(``app_pages/private.py``) only renders the component whose files live in ``component/``.
"""

from .export import (
    DeviceModel,
    NeighbourTable,
    build_device_model,
    build_graph,
    export_onnx,
    measure_name,
    model_version,
    neighbour_table,
)

__all__ = [
    "DeviceModel",
    "NeighbourTable",
    "build_device_model",
    "build_graph",
    "export_onnx",
    "measure_name",
    "model_version",
    "neighbour_table",
]
