import { defineConfig } from "vite";

// base "./": the built page works from any folder of any static server. The headers make the page
// cross-origin isolated (SharedArrayBuffer), which tfjs' multi-threaded wasm build needs.
const isolation = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

export default defineConfig({
  base: "./",
  build: { target: "es2022", chunkSizeWarningLimit: 4096 },
  server: { headers: isolation },
  preview: { headers: isolation },
});
