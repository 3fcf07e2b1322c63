import { ConfigError } from "@llava-ts/errors";
import { describe, expect, it } from "vitest";
import { planEmbeddingResize } from "./embedding-resize.js";

describe("planEmbeddingResize", () => {
  it("grows only when the largest id has no row", () => {
    expect(planEmbeddingResize(151665, 152064).needed).toBe(false);
    expect(planEmbeddingResize(151665, 151665)).toMatchObject({
      needed: true,
      newRows: 151666,
      addedRows: 1,
    });
    expect(() => planEmbeddingResize(-1, 10)).toThrow(ConfigError);
    expect(() => planEmbeddingResize(3, 10, { padToMultipleOf: 0 })).toThrow(/padToMultipleOf/);
  });
});
