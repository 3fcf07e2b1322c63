export * from "./layers.js";
export * from "./module.js";
export * from "./random.js";
