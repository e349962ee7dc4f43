// Build the map's glyphs: signed-distance-field PBF ranges of 256 code points,
// as MapLibre asks for them (style "glyphs": "/glyphs/{fontstack}/{range}.pbf"),
// with fontnik (pinned in package-lock.json; its native binary ships in the
// npm package) from DejaVu Sans Bold (Debian's fonts-dejavu-core). Only the
// ranges the font covers are written, into dashboard/assets/glyphs/<font>/.
//
// Usage: node scripts/build-glyphs.js   (run by scripts/provision.sh)
'use strict';

const fs = require('fs');
const path = require('path');
const fontnik = require('fontnik');

const root = path.resolve(__dirname, '..');
const FONT = process.env.CREWTRACK_GLYPH_FONT || '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';
const out = path.join(root, 'dashboard', 'assets', 'glyphs');

function load(font) {
  return new Promise((resolve, reject) =>
    fontnik.load(font, (err, faces) => (err ? reject(err) : resolve(faces[0]))));
}

function range(font, start) {
  return new Promise((resolve, reject) =>
    fontnik.range({ font, start, end: start + 255 }, (err, pbf) => (err ? reject(err) : resolve(pbf))));
}

async function main() {
  const font = fs.readFileSync(FONT);
  const face = await load(font);
  const name = `${face.family_name} ${face.style_name}`;
  // MapLibre asks for the Basic Multilingual Plane only (up to U+FFFF)
  const starts = [...new Set(face.points.filter((p) => p <= 0xffff).map((p) => p - (p % 256)))]
    .sort((a, b) => a - b);
  const dir = path.join(out, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  let bytes = 0;
  for (const start of starts) {
    const pbf = await range(font, start);
    fs.writeFileSync(path.join(dir, `${start}-${start + 255}.pbf`), pbf);
    bytes += pbf.length;
  }
  console.log(`[build-glyphs] ${path.relative(root, dir)}: ${starts.length} ranges, ${bytes} bytes`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
