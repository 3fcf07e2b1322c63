import { describe, expect, it } from "vitest";
import { brandClass } from "./brand-class.js";
import { ConfigError, DataError, LlavaError } from "./errors.js";

/** Two copies of one package: the same source evaluated twice gives two distinct class objects. */
function copyOfPackage() {
  class Base {
    static {
      brandClass(Base, "test:Base");
    }
    readonly size = 1;
  }
  class Leaf extends Base {
    static {
      brandClass(Leaf, "test:Leaf");
    }
  }
  class Plain extends Base {}
  return { Base, Leaf, Plain };
}

describe("brandClass", () => {
  const a = copyOfPackage();
  const b = copyOfPackage();

  it("instanceof holds across copies, for the class and its branded base", () => {
    expect(a.Leaf).not.toBe(b.Leaf);
    expect(new b.Leaf()).toBeInstanceOf(a.Leaf);
    expect(new b.Leaf() instanceof a.Base).toBe(true);
    expect(new a.Plain() instanceof b.Base).toBe(true);
  });

  it("is still false for other classes and for non-objects", () => {
    expect(new a.Base() instanceof b.Leaf).toBe(false);
    expect(new a.Plain() instanceof a.Leaf).toBe(false);
    expect({} instanceof a.Base).toBe(false);
    const notObjects: unknown[] = [null, undefined, "x", 1];
    for (const x of notObjects) expect(x instanceof a.Base).toBe(false);
  });

  it("leaves unbranded subclasses with the ordinary check", () => {
    expect(new a.Plain() instanceof a.Plain).toBe(true);
    expect(new b.Plain() instanceof a.Plain).toBe(false);
    expect(new a.Leaf() instanceof a.Plain).toBe(false);
  });

  it("the error classes are branded: a look-alike from another copy is recognised", () => {
    // What another copy's ConfigError looks like to this one: same brands, other class objects.
    class OtherLlavaError extends Error {
      static {
        brandClass(OtherLlavaError, "@llava-ts/errors:LlavaError");
      }
    }
    class OtherConfigError extends OtherLlavaError {
      static {
        brandClass(OtherConfigError, "@llava-ts/errors:ConfigError");
      }
    }
    const e = new OtherConfigError("bad");
    expect(e instanceof ConfigError).toBe(true);
    expect(e instanceof LlavaError).toBe(true);
    expect(e instanceof DataError).toBe(false);
    expect(new ConfigError("x") instanceof OtherLlavaError).toBe(true);
  });
});
