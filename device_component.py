"""The private-recommendations component, declared for Streamlit (the page that shows it is app_pages/private.py).

Streamlit serves a custom component (v1) from a folder and runs it in an iframe, which keeps the
component's JavaScript and storage apart from the app's own page. The folder,
``amnesia/device/component/``, holds only this project's HTML, CSS and JavaScript, plus the
git-ignored ``runtime/`` copy of onnxruntime-web fetched from npm. ``declare_component`` must be
called from an importable module (not a page script), hence this file beside app.py.
"""

from __future__ import annotations

import streamlit.components.v1 as components

from amnesia.device.runtime import COMPONENT_DIR

private_device = components.declare_component("private_recommendations", path=str(COMPONENT_DIR))
