// The jobs map, drawn by plotly.js directly, outside Dash's props.
//
// At 2,000 technicians and 1,000 sites the figure is ~2 MB of JSON. Carried as
// a dcc.Graph `figure` prop, Dash's renderer and dcc.Graph spent ~20 s of the
// main thread on it before plotly.js drew (0.24 s); every tick's in-place
// update passed the whole figure through Dash again (docs/performance.md,
// "Dashboard weight"). So the server callback answers only a reference
// ({key, url, sig}); `draw` fetches the figure (gzipped, like any answer)
// and hands it to Plotly.react; `apply` moves and restyles markers with
// Plotly.restyle, and pans to what the dispatcher picked with Plotly.relayout.
//
// The view the server believes the browser shows is a signature: a figure
// carries one, a tick's delta names the one it was computed against (`base`)
// and the one it makes (`sig`). A delta that arrives while its figure is still
// on its way waits for it; one that does not fit what is drawn (a lost
// answer, a reload of the server) clears the signature store, and the next
// tick sends the whole figure again.
//
// The fences (a GeoJSON layer per job site: most of the figure's bytes) come
// in a second request (`ref.fences`), once the markers are drawn; a figure for
// the same sites keeps the fences already drawn.
//
// Nothing competes with the first figure: the tick (`live-tick`) is disabled
// in the layout and the panels beside the map wait for `live-ready`; both
// start once the first figure is drawn, could not be fetched, or after
// READY_AFTER_MS whatever happened. (A tick sent while the first figure was
// still being made superseded its request: Dash drops the older answer.)
//
// plotly.js may not be on the page yet (dashboard/plotly_loading.py, deferred):
// the page's head names it in a preload link, `start_plotly` runs it beside
// the map's first callback, and `draw` waits for both the figure and it.
(function () {
  'use strict';
  var HOST = 'live-map';
  var SIG_STORE = 'live-signature';
  var CLICK_STORE = 'live-click';
  var CONFIG = {scrollZoom: true, displaylogo: false, responsive: true};
  var MAX_WAITING = 30;
  var TICK = 'live-tick';
  var READY_STORE = 'live-ready';
  var READY_AFTER_MS = 10000;

  var PLOTLY_LINK = 'plotly-bundle';

  function nu() { return window.dash_clientside.no_update; }

  // plotly.js: on the page already, or added once from the preload link's URL
  var plotlyLoading = null;
  function plotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!plotlyLoading) {
      plotlyLoading = new Promise(function (resolve, reject) {
        var link = document.getElementById(PLOTLY_LINK);
        if (!link) { reject(new Error('plotly.js is not on this page')); return; }
        var script = document.createElement('script');
        script.src = link.href;
        script.onload = function () { resolve(window.Plotly); };
        script.onerror = function () {
          plotlyLoading = null;  // the next figure tries again
          reject(new Error('plotly.js did not load'));
        };
        document.head.appendChild(script);
      });
    }
    return plotlyLoading;
  }

  function state() {
    var host = document.getElementById(HOST);
    if (!host) return null;
    if (!host.__liveMap) {
      var gd = document.createElement('div');
      gd.className = 'live-map-plot';
      host.appendChild(gd);
      host.__liveMap = {
        gd: gd, key: null, wanted: null, sig: null, waiting: [], bound: false, pan: null,
        fences: null, layers: [], fencesWanted: null, ready: false
      };
      var s = host.__liveMap;
      setTimeout(function () { ready(s); }, READY_AFTER_MS);
    }
    return host.__liveMap;
  }

  // The map's page is still the one shown: a figure or timer that ends after
  // the dispatcher opened another page must not set the map's stores (Dash
  // throws on a component no longer in the layout).
  function shown() {
    return document.getElementById(HOST) !== null;
  }

  function resync() {  // the next tick sends the whole figure
    if (!shown()) return;
    window.dash_clientside.set_props(SIG_STORE, {data: null});
  }

  function ready(s) {  // once: the tick and the side panels start
    if (s.ready || !shown()) return;
    s.ready = true;
    window.dash_clientside.set_props(TICK, {disabled: false});
    window.dash_clientside.set_props(READY_STORE, {data: true});
  }

  function bindClicks(s) {
    if (s.bound) return;
    s.bound = true;
    s.gd.on('plotly_click', function (ev) {
      var point = ev && ev.points && ev.points[0];
      if (!point || !point.customdata) return;
      window.dash_clientside.set_props(CLICK_STORE, {
        data: {points: [{customdata: point.customdata}], at: Date.now()}
      });
    });
  }

  function applyDelta(s, delta) {
    var tr = s.gd.data && s.gd.data[delta.trace];
    if (!tr) return false;
    var update;
    if (delta.all) {
      update = {
        lat: [delta.all.lat], lon: [delta.all.lon], customdata: [delta.all.customdata],
        hovertext: [delta.all.hovertext], text: [delta.all.text],
        'marker.color': [delta.all.marker.color]
      };
    } else {
      if (!tr.lat || tr.lat.length !== delta.n) return false;
      var lat = tr.lat.slice(), lon = tr.lon.slice();
      delta.i.forEach(function (j, k) { lat[j] = delta.lat[k]; lon[j] = delta.lon[k]; });
      update = {lat: [lat], lon: [lon]};
      if (delta.si.length) {
        var c = tr.marker.color.slice(), h = tr.hovertext.slice();
        delta.si.forEach(function (j, k) { c[j] = delta.c[k]; h[j] = delta.h[k]; });
        update['marker.color'] = [c];
        update.hovertext = [h];
      }
    }
    window.Plotly.restyle(s.gd, update, [delta.trace]);
    s.sig = delta.sig;
    return true;
  }

  // a new ui revision: MapLibre's own moves count as the user's view, which an
  // unchanged revision would keep over the new centre
  function panTo(s) {
    var focus = s.pan;
    s.pan = null;
    if (!focus || !s.gd.layout || !s.gd.layout.map) return;
    window.Plotly.relayout(s.gd, {
      'map.center': {lat: focus.lat, lon: focus.lon},
      'map.zoom': focus.zoom,
      uirevision: ['focus', focus.kind, focus.id, focus.lat, focus.lon].join(':')
    });
  }

  // the deltas that came while the figure was on its way, in their order: those
  // computed against it apply; older ones are already in it
  function drainWaiting(s) {
    var waiting = s.waiting;
    s.waiting = [];
    waiting.forEach(function (delta) {
      if (delta.base === s.sig && !applyDelta(s, delta)) resync();
    });
  }

  // the fence layers at `url` onto the drawn map (after its markers)
  function addFences(s, url) {
    if (!url || url === s.fences || url === s.fencesWanted) return;
    s.fencesWanted = url;
    fetch(url, {credentials: 'same-origin'}).then(function (res) {
      return res.ok ? res.json() : null;
    }).then(function (layers) {
      if (s.fencesWanted !== url) return;
      s.fencesWanted = null;
      if (!layers) return;  // evicted: the next figure names them again
      s.fences = url;
      s.layers = layers;
      return window.Plotly.relayout(s.gd, {'map.layers': layers});
    }).catch(function () { if (s.fencesWanted === url) s.fencesWanted = null; });
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    live_map: {
      // the map's first callback is on its way: plotly.js runs meanwhile (a
      // task later, so Dash sends that callback first)
      start_plotly: function () {
        if (!window.Plotly) {
          setTimeout(function () { plotly().catch(function () {}); }, 0);
        }
        return nu();
      },
      // the figure reference the server answered -> the key drawn
      draw: function (ref) {
        var s = state();
        if (!s || !ref || !ref.url || ref.key === s.wanted) return nu();
        s.wanted = ref.key;
        return fetch(ref.url, {credentials: 'same-origin'}).then(function (res) {
          if (s.wanted !== ref.key) return nu();  // a newer figure is on its way
          if (!res.ok) { resync(); ready(s); return nu(); }
          return Promise.all([res.json(), plotly()]).then(function (got) {
            var fig = got[0];
            if (s.wanted !== ref.key) return nu();
            var same = ref.fences && ref.fences === s.fences;
            if (fig.layout.map) fig.layout.map.layers = same ? s.layers : [];
            if (!same) s.fences = null;
            return window.Plotly.react(s.gd, fig.data, fig.layout, CONFIG).then(function () {
              s.key = ref.key;
              s.sig = ref.sig;
              bindClicks(s);
              ready(s);
              drainWaiting(s);
              panTo(s);
              addFences(s, ref.fences);
              return ref.key;
            });
          });
        }).catch(function () { s.wanted = s.key; resync(); ready(s); return nu(); });
      },
      // a tick's marker delta, or the dispatcher's pick -> nothing to store
      apply: function (delta, focus) {
        var s = state();
        var ctx = window.dash_clientside.callback_context;
        var picked = (ctx.triggered || []).some(function (t) {
          return t.prop_id.indexOf('focus.') === 0;
        });
        if (!s) return nu();
        if (picked) {
          if (focus && focus.pan) {
            s.pan = focus;  // panned to now, or once the figure is drawn
            if (s.key) panTo(s);
          }
          return nu();
        }
        if (!delta) return nu();
        if (s.wanted !== s.key) {  // its figure is still on its way
          s.waiting.push(delta);
          if (s.waiting.length > MAX_WAITING) s.waiting.shift();
          return nu();
        }
        if (delta.base !== s.sig || !applyDelta(s, delta)) resync();
        return nu();
      }
    }
  });
})();
