// The technician app's build: one page (index.html) plus the service worker,
// emitted as /app/sw.js (a stable name: the browser looks for it there) with the
// list of every built file in it, so it can cache the whole shell at install.
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

const here = fileURLToPath(new URL(".", import.meta.url));

const SHELL_MARKER = '"__SHELL_FILES__"';
const VERSION_MARKER = "__SHELL_VERSION__";

function shellList(): Plugin {
  return {
    name: "crewtrack-shell-list",
    apply: "build",
    generateBundle(_options, bundle) {
      // the built chunks and assets, and what public/ copies as it is
      const copied = readdirSync(`${here}public`);
      const files = [...Object.keys(bundle).filter((name) => name !== "sw.js"), ...copied].sort();
      const sw = bundle["sw.js"];
      if (sw === undefined || sw.type !== "chunk") {
        throw new Error("the service worker chunk is missing");
      }
      const version = createHash("sha256").update(files.join("\n")).digest("hex").slice(0, 12);
      if (!sw.code.includes(SHELL_MARKER) || !sw.code.includes(VERSION_MARKER)) {
        throw new Error("the service worker lost its shell markers");
      }
      sw.code = sw.code
        .replace(SHELL_MARKER, JSON.stringify(["./", ...files]))
        .replace(VERSION_MARKER, version);
    },
  };
}

export default defineConfig({
  root: here,
  base: "/app/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    rollupOptions: {
      input: { main: `${here}index.html`, sw: `${here}src/sw.ts` },
      output: {
        entryFileNames: (chunk) => (chunk.name === "sw" ? "sw.js" : "assets/[name]-[hash].js"),
      },
    },
  },
  plugins: [shellList()],
  test: {
    environment: "node",
    include: ["test/**/*.test.ts"],
  },
});
