// Build the dashboard's partial plotly.js bundle: only the trace types the
// pages draw (package.json "plotlyTraces"), from the pinned plotly.js sources,
// with esbuild. Dash's dcc.Graph uses `window.Plotly` when the page already
// has one, so this file in dashboard/assets/ replaces the 4.7 MB full bundle.
//
// Usage: node scripts/build-plotly.js   (run by scripts/provision.sh)
'use strict';

const fs = require('fs');
const path = require('path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const outfile = path.join(root, 'dashboard', 'assets', 'plotly-crewtrack.min.js');

// plotly.js requires maplibre-gl's stylesheet from JavaScript; inject it as a
// <style> element, as plotly's own build does (esbuild-plugin-inline-css).
const inlineCss = {
  name: 'inline-css',
  setup(build) {
    build.onLoad({ filter: /\.css$/ }, (args) => ({
      contents:
        'var s = document.createElement("style");' +
        `s.textContent = ${JSON.stringify(fs.readFileSync(args.path, 'utf8'))};` +
        'document.head.appendChild(s);',
      loader: 'js',
    }));
  },
};

// A street basemap that cannot load (no internet, tile server down) must not
// break the map: plotly.js rejects the plot on MapLibre's first error of any
// kind, after which the figure no longer updates. Tile errors (they name a
// source) are let through instead: the map stays white under the fences,
// markers and labels, and a repaint lets plotly's "rendered" promise see the
// map loaded (else dcc.Graph, which queues each update after the previous
// one, would wait for ever). The listener stays, so MapLibre does not print each
// failed tile as an error either. The exact text is checked: a plotly.js
// upgrade that changes it fails the build instead of silently losing this.
const REJECT_ON_ERROR = `    function handler() {
        reject(new Error(constants.mapOnErrorMsg));
    }

    map.once('error', handler);`;
const TOLERATE_TILE_ERRORS = `    function handler(e) {
        if (e && e.sourceId) {
            if (!map._crewtrackTileWarned) {
                map._crewtrackTileWarned = true;
                console.warn('crewtrack: map tiles of "' + e.sourceId + '" did not load; drawing without them');
            }
            map.triggerRepaint(); // a render after the failure lets the plot resolve
            return;
        }
        reject(new Error(constants.mapOnErrorMsg));
    }

    map.on('error', handler);`;
const basemapTolerant = {
  name: 'basemap-tolerant',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]plots[\\/]map[\\/]map\.js$/ }, (args) => {
      const source = fs.readFileSync(args.path, 'utf8');
      if (!source.includes(REJECT_ON_ERROR)) {
        throw new Error(`${args.path}: rejectOnError changed; review the basemap patch`);
      }
      return { contents: source.replace(REJECT_ON_ERROR, TOLERATE_TILE_ERRORS), loader: 'js' };
    });
  },
};

const traces = pkg.plotlyTraces.map((t) => `require('plotly.js/lib/${t}')`);
const entry =
  "var Plotly = require('plotly.js/lib/core');\n" +
  `Plotly.register([${traces.join(', ')}]);\n` +
  'module.exports = Plotly;\n';

esbuild
  .build({
    stdin: { contents: entry, resolveDir: root, sourcefile: 'plotly-crewtrack.js' },
    outfile,
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    legalComments: 'none',
    plugins: [inlineCss, basemapTolerant],
    // the same settings as plotly.js' esbuild-config.js
    alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false', 'process.env.NODE_DEBUG': 'false' },
    target: 'es2016',
    logLevel: 'warning',
    banner: {
      js: `/* plotly.js ${pkg.devDependencies['plotly.js']} (MIT), traces: ${pkg.plotlyTraces.join(', ')}; built by scripts/build-plotly.js */`,
    },
  })
  .then(() => {
    const size = fs.statSync(outfile).size;
    console.log(`[build-plotly] ${path.relative(root, outfile)}: ${size} bytes`);
  })
  .catch(() => process.exit(1));
