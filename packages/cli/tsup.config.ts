import { packageConfig } from "../../tsup.shared.ts";

export default packageConfig({ index: "src/index.ts", bin: "src/bin.ts" });
