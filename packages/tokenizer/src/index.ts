export {
  type ChatMessage,
  type RenderChatTemplateOptions,
  renderChatTemplate,
  selectChatTemplate,
} from "./chat-template.js";
export {
  type EmbeddingResizeOptions,
  type EmbeddingResizePlan,
  planEmbeddingResize,
} from "./embedding-resize.js";
export { hfJson, type TokenizerSnapshot, tokenizerFiles, writeTokenizerFiles } from "./save-tokenizer.js";
export {
  type ApplyChatTemplateOptions,
  type DecodeOptions,
  type EncodeOptions,
  Tokenizer,
} from "./tokenizer.js";
export { type ChatTemplates, readTokenizerFolder, type TokenizerFolder } from "./tokenizer-folder.js";
export {
  type AddedTokenSpec,
  SPECIAL_TOKEN_ROLES,
  type SpecialTokenRole,
  type TokenizerConfig,
  type TokenizerJson,
} from "./types.js";
