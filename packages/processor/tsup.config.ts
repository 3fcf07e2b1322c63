import { packageConfig } from "../../tsup.shared.ts";

// The "browser" build (package.json exports, condition "browser"): the same entry with the sharp decoder
// swapped for the browser's (createImageBitmap + OffscreenCanvas), so a bundler never meets sharp.
const browserDecoder = {
  name: "browser-image-decoder",
  setup(build: { onResolve(o: { filter: RegExp }, f: () => { path: string }): void }) {
    build.onResolve({ filter: /^\.\/image-decode\.js$/ }, () => ({
      path: new URL("./src/image-decode.browser.ts", import.meta.url).pathname,
    }));
  },
};

export default [
  packageConfig(),
  packageConfig(["src/index.ts"], {
    outDir: "dist-browser",
    dts: false,
    platform: "browser",
    esbuildPlugins: [browserDecoder],
  }),
];
