// The demo's sizes and schedules. The full settings were tuned to reach ≥ 90% exact match on held-out
// images for both caption styles within 10 minutes on 2 cores (wasm); `quick` only checks the plumbing.
import type { TinySizes } from "./tiny-checkpoints.js";

export interface PhaseSettings {
  /** Optimizer steps; each takes one global batch (split over the ranks). */
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
}

export interface DemoSettings {
  sizes: TinySizes;
  /** Training images per caption style, and held-out images for the evaluation. */
  trainImages: number;
  heldOutImages: number;
  base: PhaseSettings;
  lora: PhaseSettings & { r: number; alpha: number };
}

export const FULL_DEMO: DemoSettings = {
  sizes: {
    imageSize: 56,
    patchSize: 14,
    visionHidden: 64,
    visionLayers: 2,
    textHidden: 64,
    textLayers: 2,
    textIntermediate: 128,
    initializerRange: 0.1,
    embeddingStd: 0.5,
  },
  trainImages: 1000,
  heldOutImages: 50,
  base: { steps: 600, batchSize: 8, lr: 3e-3, warmupSteps: 20 },
  lora: { steps: 260, batchSize: 8, lr: 3e-3, warmupSteps: 10, r: 16, alpha: 32 },
};

/** A few steps of everything: for tests and a first look (the captions will be wrong). */
export const QUICK_DEMO: DemoSettings = {
  ...FULL_DEMO,
  trainImages: 16,
  heldOutImages: 4,
  base: { ...FULL_DEMO.base, steps: 2, batchSize: 4, warmupSteps: 0 },
  lora: { ...FULL_DEMO.lora, steps: 2, batchSize: 4, warmupSteps: 0 },
};
