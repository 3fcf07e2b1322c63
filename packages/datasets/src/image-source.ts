// Where a dataset's images live: a folder or a zip (read in place through its central directory).
// Specs are plain data so worker threads can open the same source themselves.
import { existsSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { DataError, isInsideFolder } from "@llava-ts/core";
import { ZipReader } from "./zip-reader.js";

export interface ImageSourceSpec {
  /** A folder, or a file ending in `.zip`. */
  path: string;
  /** Prepended to every record's image name (ShareGPT-4o's zip keeps its images under a long prefix). */
  prefix?: string;
  /** Zip members larger than this are refused unread (default 256 MiB, zip-reader's MAX_ZIP_MEMBER_BYTES). */
  maxMemberBytes?: number;
}

export interface ImageSource {
  readonly spec: ImageSourceSpec;
  has(name: string): boolean;
  /** The encoded image; a DataError with reason "missing_image" when it is not there. */
  read(name: string): Buffer;
  close(): void;
}

export function openImageSource(spec: ImageSourceSpec | string): ImageSource {
  const s = typeof spec === "string" ? { path: spec } : spec;
  if (!existsSync(s.path)) throw new DataError(`image source not found: ${s.path}`, s.path);
  return statSync(s.path).isDirectory() ? new FolderImageSource(s) : new ZipImageSource(s);
}

export class FolderImageSource implements ImageSource {
  constructor(readonly spec: ImageSourceSpec) {}

  /**
   * The file of `name`, which must stay inside the folder: a record naming "../../etc/passwd" is refused
   * before anything is read (a symlink placed inside the folder is the way to use images kept elsewhere).
   * An absolute name is that file, as Python's os.path.join(folder, name) makes it, and is held to the same.
   */
  private resolve(name: string): string {
    const relative = (this.spec.prefix ?? "") + name;
    const file = isAbsolute(relative) ? resolve(relative) : join(this.spec.path, relative);
    if (!isInsideFolder(this.spec.path, file))
      throw new DataError(
        `image path "${name}" leads outside the image folder (to ${file})`,
        this.spec.path,
        undefined,
        "unsafe_path",
      );
    return file;
  }

  has(name: string): boolean {
    return existsSync(this.resolve(name));
  }

  read(name: string): Buffer {
    const file = this.resolve(name);
    try {
      return readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new DataError(
        code === "ENOENT"
          ? `image not found: ${file}`
          : `cannot read image ${file}: ${(err as Error).message}`,
        this.spec.path,
        undefined,
        "missing_image",
      );
    }
  }

  close(): void {}
}

export class ZipImageSource implements ImageSource {
  private readonly zip: ZipReader;

  constructor(readonly spec: ImageSourceSpec) {
    this.zip = ZipReader.open(spec.path, { maxMemberBytes: spec.maxMemberBytes });
  }

  has(name: string): boolean {
    return this.zip.has((this.spec.prefix ?? "") + name);
  }

  read(name: string): Buffer {
    const member = (this.spec.prefix ?? "") + name;
    if (!this.zip.has(member))
      throw new DataError(`image "${member}" is not in the zip`, this.spec.path, undefined, "missing_image");
    return this.zip.read(member);
  }

  close(): void {
    this.zip.close();
  }
}
