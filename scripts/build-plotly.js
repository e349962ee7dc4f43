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
    plugins: [inlineCss],
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
