// A small CC3M-style dataset drawn with sharp: coloured shapes at named positions, captions derived from the
// drawing (so a tiny model can learn them), `chat.json` in the real record shape, the images in a folder and
// in `images.zip`. Deterministic given the seed; the caption style is pluggable (English, Chinese, your own).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { mulberry32 } from "./epoch-sampler.js";
import { ZipWriter } from "./zip-writer.js";

export const SHAPES = ["circle", "square", "triangle"] as const;
export const COLOURS = { red: "#e0201b", green: "#1f9e2c", blue: "#1b4fe0", yellow: "#f2c40f" } as const;
export const POSITIONS = {
  left: [0.25, 0.5],
  right: [0.75, 0.5],
  top: [0.5, 0.25],
  bottom: [0.5, 0.75],
  center: [0.5, 0.5],
} as const;

export interface SyntheticShape {
  shape: (typeof SHAPES)[number];
  colour: keyof typeof COLOURS;
  position: keyof typeof POSITIONS;
}

export interface CaptionStyle {
  /** Human turns (one is picked per record); each must contain `<image>`. */
  prompts: readonly string[];
  caption(shapes: readonly SyntheticShape[]): string;
}

export const ENGLISH_CAPTIONS: CaptionStyle = {
  prompts: [
    "Provide a brief description of the given image.\n<image>",
    "<image>\nWrite a terse but informative summary of the picture.",
    "Give a short and clear explanation of the subsequent image.\n<image>",
  ],
  caption: (shapes) =>
    `${shapes.map((s) => `a ${s.colour} ${s.shape} ${s.position === "center" ? "in the center" : `on the ${s.position}`}`).join(" and ")} .`,
};

const ZH = {
  shape: { circle: "圆形", square: "正方形", triangle: "三角形" },
  colour: { red: "红色", green: "绿色", blue: "蓝色", yellow: "黄色" },
  position: { left: "左边", right: "右边", top: "上边", bottom: "下边", center: "中间" },
} as const;

export const CHINESE_CAPTIONS: CaptionStyle = {
  prompts: ["请简要描述这张图片。\n<image>", "<image>\n用一句话描述图片的内容。"],
  caption: (shapes) =>
    `${shapes.map((s) => `${ZH.position[s.position]}有一个${ZH.colour[s.colour]}的${ZH.shape[s.shape]}`).join("，")}。`,
};

export interface SyntheticCaptionsOptions {
  /** Output folder: chat.json, images/, images.zip. */
  out: string;
  count: number;
  /** Image side in pixels (default 64). */
  size?: number;
  seed?: number;
  style?: "en" | "zh" | CaptionStyle;
  /** Shapes per image, at distinct positions (default 1). */
  shapesPerImage?: number;
  imageFormat?: "jpeg" | "png";
  /** Where the images go (default both). */
  images?: "folder" | "zip" | "both";
}

export interface SyntheticCaptions {
  chatJson: string;
  imagesDir?: string;
  imagesZip?: string;
  records: {
    id: string;
    image: string;
    shapes: SyntheticShape[];
    conversations: { from: string; value: string }[];
  }[];
}

export async function generateSyntheticCaptions(
  options: SyntheticCaptionsOptions,
): Promise<SyntheticCaptions> {
  const {
    out,
    count,
    size = 64,
    seed = 0,
    shapesPerImage = 1,
    imageFormat = "jpeg",
    images = "both",
  } = options;
  const style =
    options.style === "zh"
      ? CHINESE_CAPTIONS
      : options.style && options.style !== "en"
        ? options.style
        : ENGLISH_CAPTIONS;
  const positions = Object.keys(POSITIONS) as SyntheticShape["position"][];
  if (shapesPerImage < 1 || shapesPerImage > positions.length)
    throw new RangeError(`shapesPerImage must be in [1, ${positions.length}], got ${shapesPerImage}`);
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  mkdirSync(out, { recursive: true });
  const imagesDir = images !== "zip" ? join(out, "images") : undefined;
  if (imagesDir) mkdirSync(imagesDir, { recursive: true });
  const zip = images !== "folder" ? new ZipWriter(join(out, "images.zip"), { method: "deflate" }) : undefined;
  const records: SyntheticCaptions["records"] = [];
  const ext = imageFormat === "png" ? "png" : "jpg";
  for (let i = 0; i < count; i++) {
    const id = `GCC_train_${String(i + 1).padStart(9, "0")}`;
    const free = [...positions];
    const shapes: SyntheticShape[] = [];
    for (let k = 0; k < shapesPerImage; k++) {
      const position = free.splice(Math.floor(rand() * free.length), 1)[0];
      shapes.push({
        shape: pick(SHAPES),
        colour: pick(Object.keys(COLOURS) as SyntheticShape["colour"][]),
        position,
      });
    }
    const background = 225 + Math.floor(rand() * 30);
    const svg = drawSvg(shapes, size, background, 0.14 + rand() * 0.06);
    const img = sharp(Buffer.from(svg)).removeAlpha();
    const data =
      imageFormat === "png" ? await img.png().toBuffer() : await img.jpeg({ quality: 92 }).toBuffer();
    const image = `${id}.${ext}`;
    if (imagesDir) writeFileSync(join(imagesDir, image), data);
    zip?.add(image, data);
    records.push({
      id,
      image,
      shapes,
      conversations: [
        { from: "human", value: pick(style.prompts) },
        { from: "gpt", value: style.caption(shapes) },
      ],
    });
  }
  zip?.close();
  const chatJson = join(out, "chat.json");
  // The real file is one JSON list; keep its record key order (id, image, conversations).
  writeFileSync(
    chatJson,
    JSON.stringify(records.map(({ id, image, conversations }) => ({ id, image, conversations }))),
  );
  return { chatJson, imagesDir, imagesZip: zip ? join(out, "images.zip") : undefined, records };
}

function drawSvg(
  shapes: readonly SyntheticShape[],
  size: number,
  background: number,
  radius: number,
): string {
  const r = radius * size;
  const body = shapes.map((s) => {
    const [fx, fy] = POSITIONS[s.position];
    const cx = fx * size;
    const cy = fy * size;
    const fill = COLOURS[s.colour];
    if (s.shape === "circle") return `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${fill}"/>`;
    if (s.shape === "square")
      return `<rect x="${cx - r}" y="${cy - r}" width="${2 * r}" height="${2 * r}" fill="${fill}"/>`;
    return `<polygon points="${cx},${cy - r} ${cx + r},${cy + r} ${cx - r},${cy + r}" fill="${fill}"/>`;
  });
  const bg = `rgb(${background},${background},${background})`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="${bg}"/>${body.join("")}</svg>`;
}
