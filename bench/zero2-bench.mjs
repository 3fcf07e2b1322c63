// train_step.zero2.N: the bench batch split over N data-parallel ranks (worker threads, one wasm backend
// each), global batch unchanged. Needs the trainer's ZeRO-2 launcher (issue 7); skipped until it exists.
export async function trainZero2Bench(N, strategy, reps, warmup) {
  const trainer = await import("@llava-ts/trainer");
  if (typeof trainer.launchRanks !== "function" || typeof trainer.Zero2 !== "function")
    return {
      skipped: "@llava-ts/trainer does not export the ZeRO-2 launcher yet (issue 7)",
      ranks: N,
      strategy,
    };
  const { runZero2Ranks } = await import("./zero2-rank.mjs");
  return runZero2Ranks(N, strategy, reps, warmup);
}
