// Is a browser's GPU backend drawn by the CPU? Chromium without a GPU (or with --disable-gpu, or headless)
// runs WebGL and WebGPU on SwiftShader, Linux on Mesa's llvmpipe/lavapipe, Windows on WARP ("Microsoft Basic
// Render Driver"). initBackend passes over them when choosing by itself (the reason and figures: init-backend.ts).

/** Renderer names of CPU rasterisers: SwiftShader, Mesa's llvmpipe/softpipe/lavapipe, WARP, Apple's. */
const SOFTWARE_RENDERER = /swiftshader|llvmpipe|softpipe|lavapipe|basic render driver|software/i;

/** Whether a WebGL renderer string or a WebGPU adapter description names a software rasteriser. */
export function isSoftwareRenderer(renderer: string): boolean {
  return SOFTWARE_RENDERER.test(renderer);
}

/** The parts of a GPUAdapter read here (the DOM types are not in core's lib). */
export interface GpuAdapterInfo {
  isFallbackAdapter?: boolean;
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}

/** Whether a WebGPU adapter is a software one: the fallback adapter, or SwiftShader's by its info. */
export function isSoftwareAdapter(adapter: GpuAdapterInfo): boolean {
  const { vendor = "", architecture = "", description = "" } = adapter.info ?? {};
  return adapter.isFallbackAdapter === true || isSoftwareRenderer(`${vendor} ${architecture} ${description}`);
}

interface ProbeContext {
  RENDERER: number;
  getParameter(name: number): unknown;
  getExtension(name: string): unknown;
}

/**
 * The software renderer WebGL would run on, or undefined on a hardware GPU or without WebGL. A WebGL2 context
 * is asked for as tfjs-backend-webgl asks (`failIfMajorPerformanceCaveat: true`): null there while a plain
 * one exists means the browser itself calls it slow. Otherwise the unmasked renderer decides
 * (WEBGL_debug_renderer_info; Firefox, which retired that extension, reports it as RENDERER) — Chromium's
 * headless SwiftShader does not raise the caveat. The probe context is released at once.
 */
export function softwareWebglRenderer(): string | undefined {
  const g = globalThis as {
    OffscreenCanvas?: new (w: number, h: number) => { getContext(kind: string, attrs?: object): unknown };
    document?: { createElement(tag: "canvas"): { getContext(kind: string, attrs?: object): unknown } };
  };
  const canvas = () =>
    g.OffscreenCanvas ? new g.OffscreenCanvas(1, 1) : g.document?.createElement("canvas");
  const release = (gl: ProbeContext) =>
    (gl.getExtension("WEBGL_lose_context") as { loseContext(): void } | null)?.loseContext();
  const strict = canvas()?.getContext("webgl2", {
    failIfMajorPerformanceCaveat: true,
  }) as ProbeContext | null;
  if (!strict) {
    const plain = canvas()?.getContext("webgl2") as ProbeContext | null;
    if (!plain) return undefined;
    release(plain);
    return "a major performance caveat (failIfMajorPerformanceCaveat)";
  }
  const debug = strict.getExtension("WEBGL_debug_renderer_info") as {
    UNMASKED_RENDERER_WEBGL: number;
  } | null;
  const renderer = String(strict.getParameter(debug ? debug.UNMASKED_RENDERER_WEBGL : strict.RENDERER) ?? "");
  release(strict);
  return isSoftwareRenderer(renderer) ? renderer : undefined;
}
