"""The Sphinx extension's page post-processing (no build needed)."""

from __future__ import annotations

from types import SimpleNamespace

import folium

from nqpf_helpers import sphinx_maps


def _handlers() -> dict:
    registered: dict = {}
    sphinx_maps.setup(SimpleNamespace(connect=lambda event, fn: registered.setdefault(event, fn)))
    return registered


def test_trust_notice_removed_from_page_body():
    handler = _handlers()["html-page-context"]
    html = folium.Map(location=[35, 105], zoom_start=3)._repr_html_()
    assert "Make this Notebook Trusted" in html  # what folium writes; if it ever stops, the handler is moot
    for page in (html, html.replace("->", "-&gt;")):
        context = {"body": f"<p>before</p>{page}<p>after</p>"}
        handler(None, "chapters/x", "page.html", context, None)
        assert "Trust" not in context["body"]
        assert context["body"].startswith("<p>before</p><div") and context["body"].endswith("<p>after</p>")
        assert "<iframe srcdoc=" in context["body"]


def test_pages_without_maps_untouched():
    handler = _handlers()["html-page-context"]
    for context in ({"body": "<p>no map here</p>"}, {}, {"body": None}):
        before = dict(context)
        handler(None, "chapters/x", "page.html", context, None)
        assert context == before


def test_strip_trust_notice_keeps_other_spans():
    other = '<span style="color:#565656">a caption</span>'
    assert sphinx_maps.strip_trust_notice(other) == other
