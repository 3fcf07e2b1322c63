import { packageConfig } from "../../tsup.shared.ts";

// tfjs-core's gradient and chained-op registrations (src/backend/tfjs-registrations.ts) are bundled in:
// they are ESM files with extensionless imports that Node cannot load from node_modules. The .d.ts keeps
// the chained methods' types (x.add(y)) for every package and user that imports core.
export default packageConfig(["src/index.ts", "src/testing/index.ts", "src/internal/index.ts"], {
  noExternal: [/^@tensorflow\/tfjs-core\/dist\//],
  dts: {
    banner:
      '/// <reference types="@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops" />',
  },
});
