// How N data-parallel ranks' losses add up to one rank's. Each rank's loss is a mean over its own loss
// tokens; weighting it by N × (its tokens / all ranks' tokens) makes the average over ranks the mean over
// every token of the global batch, so N ranks with micro-batch b compute exactly what one rank does with
// N·b. DeepSpeed averages the ranks' means instead ("mean"), which differs when the counts differ.

export type LossWeighting = "tokens" | "mean";

/** The factor on a rank's mean loss; 1 when no rank has a loss token (the trainer then passes the micro-batch over). */
export function rankLossWeight(rankTokens: number, globalTokens: number, worldSize: number): number {
  return globalTokens > 0 ? (worldSize * rankTokens) / globalTokens : 1;
}
