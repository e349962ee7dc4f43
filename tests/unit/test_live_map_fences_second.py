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
    body = callbacks.figure_body(ctx, key)
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


def test_the_fence_layers_are_built_when_the_browser_asks_for_them_not_before(
    monkeypatch: Any,
) -> None:
    ctx = Context(cast(Sources, None), tile_url="")
    sites = [_site(i) for i in range(3)]
    built: list[int] = []
    real = figures.site_fence_layers

    def counting(s: Any) -> Any:
        built.append(len(s))
        return real(s)

    monkeypatch.setattr(figures, "site_fence_layers", counting)
    url = callbacks.fences_url(ctx, "sig-b", sites)
    assert built == []  # the map's answer did not wait for them
    assert _served(ctx, url) == real(sites)
    assert _served(ctx, url) == real(sites)
    assert built == [3]  # once per set of sites


def test_fence_layers_of_sites_this_process_never_named_are_not_found() -> None:
    ctx = Context(cast(Sources, None), tile_url="")
    assert callbacks.figure_body(ctx, callbacks.FENCES_PREFIX + "unknown") is None
    assert callbacks.figure_body(ctx, "no-such-figure") is None
