// Where each trainable parameter sits in the flat gradient / parameter space that ZeRO partitions: the
// trainer's GradientBuffer order (trainable parameters in module order, contiguous), so a partition is
// one contiguous range that may start and end inside a parameter.
import { partitionRange } from "./collective/collective.js";

export interface FlatParam {
  name: string;
  size: number;
  /** Start in the flat space. */
  offset: number;
}

export interface FlatLayout {
  params: FlatParam[];
  total: number;
}

/** A piece of parameter `index`: flat range [start, end), i.e. its values [start − offset, end − offset). */
export interface FlatSegment {
  index: number;
  start: number;
  end: number;
}

export function flatLayout(params: readonly { name: string; size: number }[]): FlatLayout {
  let offset = 0;
  const out = params.map((p) => {
    const f = { name: p.name, size: p.size, offset };
    offset += p.size;
    return f;
  });
  return { params: out, total: offset };
}

/** The parameter pieces inside flat range [lo, hi), in order. */
export function segmentsIn(layout: FlatLayout, lo: number, hi: number): FlatSegment[] {
  const out: FlatSegment[] = [];
  layout.params.forEach((p, index) => {
    const start = Math.max(lo, p.offset);
    const end = Math.min(hi, p.offset + p.size);
    if (start < end) out.push({ index, start, end });
  });
  return out;
}

/** Rank `rank`'s partition of `layout` among `worldSize` ranks. */
export function partitionOf(layout: FlatLayout, worldSize: number, rank: number): [number, number] {
  return partitionRange(layout.total, worldSize, rank);
}
