// @llava-ts/files: where a model's files come from (disk, URL, memory) and Node built-ins reached without
// import statements, so the inference path bundles for the browser with no polyfills.
export {
  type AsyncFolderSource,
  type FileData,
  type FolderSource,
  isHttpUrl,
  isModelFolder,
  localPath,
  type ModelFolder,
  memoryFolder,
  nodeFolder,
  toModelFolder,
  type UrlFolderOptions,
  urlFolder,
} from "./model-folder.js";
export { envVar, hasNodeBuiltins, nodeBuiltin } from "./node-builtins.js";
