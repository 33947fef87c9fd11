"""Bundled resources (sample photos, icons, stylesheet), found with importlib.resources."""
