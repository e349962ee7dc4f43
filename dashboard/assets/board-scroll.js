// The day board on a narrow screen: the timeline is wider than its panel and
// scrolls sideways inside it (the page never does). It opens scrolled so that
// the "now" line is in the middle, and the technicians' names stay at the
// panel's left edge while it scrolls. A redraw of the same day (every tick)
// keeps the dispatcher's scroll; another day opens at "now" again (or at the
// start when "now" is not on it). On a wide screen nothing scrolls: no-op.
(function () {
  'use strict';
  var GRAPH = 'board-graph';
  var NOW = 'now'; // the name of the "now" line's shape (figures.NOW_LINE)

  function nowX(gd) {
    var full = gd._fullLayout;
    var shapes = (gd.layout && gd.layout.shapes) || [];
    for (var i = 0; i < shapes.length; i++) {
      if (shapes[i].name === NOW) {
        return full.xaxis._offset + full.xaxis.l2p(full.xaxis.d2l(shapes[i].x0));
      }
    }
    return null;
  }

  // the names (the y axis's labels) move with the scroll: they stay in view
  function keepNames(gd, panel) {
    var layer = gd.querySelector('.yaxislayer-above');
    if (layer) layer.style.transform = 'translateX(' + panel.scrollLeft + 'px)';
  }

  function drawn(gd) {
    var panel = gd.closest('.board-timeline');
    if (!panel || !gd._fullLayout || !gd._fullLayout.xaxis) return;
    if (!panel.__crewtrackScroll) {
      panel.__crewtrackScroll = true;
      panel.addEventListener('scroll', function () { keepNames(gd, panel); },
                             {passive: true});
    }
    var day = String(gd._fullLayout.xaxis.range);
    if (panel.__crewtrackDay !== day) {
      panel.__crewtrackDay = day;
      var x = nowX(gd);
      panel.scrollLeft = x === null ? 0 : Math.max(0, x - panel.clientWidth / 2);
    }
    keepNames(gd, panel);
  }

  // Dash draws the graph after this script runs, and may replace it: look for
  // it now and then (cheaper than watching every DOM change of the jobs map)
  // and listen to each plot once.
  function attach() {
    var host = document.getElementById(GRAPH);
    var gd = host && host.querySelector('.js-plotly-plot');
    if (!gd || !gd.on || gd.__crewtrackScrollOn) return;
    gd.__crewtrackScrollOn = true;
    gd.on('plotly_afterplot', function () { drawn(gd); });
    if (gd._fullLayout) drawn(gd);
  }
  setInterval(attach, 250);
})();
