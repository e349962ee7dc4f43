// The day board: drag a booked window sideways to reschedule it, to another
// row to reassign it, by an edge to resize it; a click on it picks it for the
// form. Plotly reports a dragged shape on every mouse move; the drop is sent
// once, when the mouse is up and the shape has been still for QUIET_MS, to
// the "board-drop" store (the server applies it through the API's rules and
// redraws the board, so a refused move springs back).
(function () {
  'use strict';
  var GRAPH = 'board-graph';
  var QUIET_MS = 300;
  var CLICK_PX = 4;

  function jobShape(gd, index) {
    var s = (gd.layout.shapes || [])[index];
    return s && typeof s.name === 'string' && s.name.indexOf('job:') === 0 ? s : null;
  }

  function shapeAt(gd, clientX, clientY) {
    var full = gd._fullLayout;
    var box = gd.getBoundingClientRect();
    var x = full.xaxis.p2d(clientX - box.left - full.xaxis._offset);
    var y = full.yaxis.p2l(clientY - box.top - full.yaxis._offset);
    var t = full.xaxis.d2l(x);
    var shapes = gd.layout.shapes || [];
    for (var i = 0; i < shapes.length; i++) {
      var s = jobShape(gd, i);
      if (!s) continue;
      var x0 = full.xaxis.d2l(s.x0), x1 = full.xaxis.d2l(s.x1);
      if (t >= Math.min(x0, x1) && t <= Math.max(x0, x1) &&
          y >= Math.min(s.y0, s.y1) && y <= Math.max(s.y0, s.y1)) {
        return s;
      }
    }
    return null;
  }

  function attach(gd) {
    var pending = null, timer = null, down = null;

    function send() {
      timer = null;
      if (down || !pending) return;
      window.dash_clientside.set_props('board-drop', {data: pending});
      pending = null;
    }
    function later() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(send, QUIET_MS);
    }
    gd.on('plotly_relayout', function (update) {
      for (var key in update) {
        var m = /^shapes\[(\d+)\]\.[xy][01]$/.exec(key);
        var s = m && jobShape(gd, Number(m[1]));
        if (s) {
          pending = {job_id: s.name.slice(4), x0: s.x0, x1: s.x1,
                     y: (s.y0 + s.y1) / 2, at: Date.now()};
          if (down) down.moved = true;
          later();
          return;
        }
      }
    });
    return {
      press: function (ev) { down = {x: ev.clientX, y: ev.clientY, moved: false}; },
      release: function (ev) {
        if (!down) return;
        var d = down;
        down = null;
        var still = Math.abs(ev.clientX - d.x) < CLICK_PX &&
                    Math.abs(ev.clientY - d.y) < CLICK_PX;
        if (still && !d.moved) {
          var s = shapeAt(gd, ev.clientX, ev.clientY);
          if (s) window.dash_clientside.set_props('plan-job', {value: s.name.slice(4)});
        }
        later();
      },
    };
  }

  // Found from the event itself (Dash draws and redraws the graph after this
  // script runs), so the very first press on a freshly drawn board counts.
  var active = null;
  document.addEventListener('mousedown', function (ev) {
    var host = document.getElementById(GRAPH);
    var gd = host && ev.target instanceof Element && host.contains(ev.target)
      ? host.querySelector('.js-plotly-plot') : null;
    if (!gd || !gd.on || !gd._fullLayout) return;
    if (!gd.__crewtrackDrag) gd.__crewtrackDrag = attach(gd);
    active = gd.__crewtrackDrag;
    active.press(ev);
  }, true);
  document.addEventListener('mouseup', function (ev) {
    if (active) active.release(ev);
    active = null;
  }, true);
})();
