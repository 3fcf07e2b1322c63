export { brandClass } from "./brand-class.js";
export * from "./errors.js";
