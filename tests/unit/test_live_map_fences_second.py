"""The jobs map's figure comes without fences; its reference names them."""

from __future__ import annotations

import json
from typing import Any, cast

from dashboard.context import Context
from dashboard.pages.live_map import callbacks, figures
from dashboard.queries import JobSite, Sources


def _site(i: int) -> JobSite:
    return JobSite(
        f"job-{i}", f"J-{i:06}", "Boiler", "scheduled", 51.5 + i / 1000, -0.12,
        {"radius_m": 80}, None, None, "", "Café Müller", "",
    )  # fmt: skip


def _served(ctx: Context, url: str) -> Any:
    key = url.removeprefix(callbacks.FIGURE_URL).removesuffix(".json")
    body = ctx.figures.get(key)
    assert body is not None, url
    return json.loads(body)


def test_the_figure_has_no_fences_and_its_reference_names_the_sites_fence_layers() -> (
    None
):
    ctx = Context(cast(Sources, None), tile_url="")
    sites = [_site(i) for i in range(3)]
    fig = figures.live_map([], sites, "", fences=[])
    url = callbacks.fences_url(ctx, "sig-a", sites)
    ref = callbacks.figure_ref(ctx, fig, "view-1", url)
    assert _served(ctx, ref["url"])["layout"]["map"]["layers"] == []
    layers = _served(ctx, ref["fences"])
    assert layers == figures.site_fence_layers(sites)
    assert len(layers[0]["source"]["features"]) == 3
    # the same sites: the same URL (the browser keeps what it drew), even after
    # the figures' cache has forgotten it
    for n in range(20):
        callbacks.figure_ref(ctx, {"n": n}, "other")
    assert callbacks.fences_url(ctx, "sig-a", sites) == url
    assert _served(ctx, url) == layers
