import { describe, expect, it } from "vitest";
import { isSoftwareAdapter, isSoftwareRenderer, softwareWebglRenderer } from "./software-gpu.js";

describe("software GPU detection", () => {
  it("names CPU rasterisers as software and real GPUs as hardware", () => {
    // Headless Chromium 156 here, with and without --disable-gpu (UNMASKED_RENDERER_WEBGL):
    const swiftshader =
      "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)";
    for (const r of [
      swiftshader,
      "llvmpipe (LLVM 15.0.6, 256 bits)",
      "ANGLE (Mesa, llvmpipe (LLVM 15.0.6 256 bits), OpenGL 4.5)",
      "ANGLE (Microsoft, Microsoft Basic Render Driver Direct3D11 vs_5_0 ps_5_0, D3D11)",
      "Apple Software Renderer",
    ])
      expect(isSoftwareRenderer(r), r).toBe(true);
    for (const r of [
      "ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 (0x00002503) Direct3D11 vs_5_0 ps_5_0, D3D11)",
      "ANGLE (Intel, Mesa Intel(R) UHD Graphics 620 (KBL GT2), OpenGL 4.6)",
      "Apple M1",
      "Mali-G78",
    ])
      expect(isSoftwareRenderer(r), r).toBe(false);
  });

  it("calls a WebGPU adapter software when it is the fallback one or SwiftShader's", () => {
    expect(isSoftwareAdapter({ isFallbackAdapter: true, info: { vendor: "intel" } })).toBe(true);
    expect(
      isSoftwareAdapter({
        isFallbackAdapter: false,
        info: { vendor: "google", architecture: "swiftshader" },
      }),
    ).toBe(true);
    expect(
      isSoftwareAdapter({ isFallbackAdapter: false, info: { vendor: "nvidia", architecture: "ampere" } }),
    ).toBe(false);
    expect(isSoftwareAdapter({})).toBe(false);
  });

  it("finds no WebGL renderer where there is no canvas (Node)", () => {
    expect(softwareWebglRenderer()).toBeUndefined();
  });
});
