// Paths read from files (dataset records, checkpoint indexes) must stay inside the folder they belong to.
import { nodeBuiltin } from "@llava-ts/files";

/**
 * Whether `path` lies inside `folder`, judged on the path as written (".." and absolute paths lead out;
 * symlinks are not followed, so one placed inside the folder is the explicit way to reach files elsewhere).
 */
export function isInsideFolder(folder: string, path: string): boolean {
  const { isAbsolute, relative } = nodeBuiltin("node:path", `checking the path ${path}`);
  const rel = relative(folder, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}
