"""Renderings of an Analysis: the JSON contract, a console table, Markdown."""
