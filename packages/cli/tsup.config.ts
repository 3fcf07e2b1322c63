import { packageConfig } from "../../tsup.shared.ts";

export default packageConfig({ index: "src/index.ts", internal: "src/internal/index.ts", bin: "src/bin.ts" });
