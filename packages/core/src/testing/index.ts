export * from "./expect-close.js";
export * from "./expect-no-leaks.js";
export * from "./fixtures.js";
