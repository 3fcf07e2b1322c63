// tfjs-core's gradients and chained tensor methods (x.add(y)) are opt-in side-effect modules that the
// @tensorflow/tfjs umbrella imports; without the umbrella we import them here. They are ESM files with
// extensionless imports, so the build bundles them (tsup.config.ts) — they register into tfjs' global
// registries and Tensor class, which every copy of tfjs-core shares.
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import "@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops";
