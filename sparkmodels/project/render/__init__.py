"""Rendering model templates: the Jinja environment and context, and the static fast path."""
