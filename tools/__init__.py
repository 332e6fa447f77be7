"""Tooling that drives the app from outside, for tests and benchmarks: not part of the library.

- :mod:`tools.serve`: start ``streamlit run app.py`` on a free port; Chromium's path and flags;
  the in-page checks that a click has finished.
- :mod:`tools.bench_app`, :mod:`tools.bench_clicks`, :mod:`tools.bench_device`: the Playwright
  harnesses behind ``python -m amnesia bench --part app|clicks|device`` (run from a checkout).

The library (``amnesia/``) never imports this package except where the bench command looks up
these three parts.
"""
