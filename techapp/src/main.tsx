import { render } from "preact";
import { App } from "./app";
import { Engine } from "./engine";
import "./style.css";

async function boot(): Promise<void> {
  if ("serviceWorker" in navigator) {
    // the shell works offline from the next start on
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch((exc: unknown) => {
      console.warn("service worker not registered", exc);
    });
  }
  const engine = await Engine.start();
  const root = document.getElementById("app");
  if (root) render(<App engine={engine} />, root);
}

void boot();
