// Renders a Jinja chat template the way transformers' apply_chat_template does: messages, tools,
// add_generation_prompt, plus the special tokens (bos_token, eos_token, ...) as top-level variables.

import { Template } from "@huggingface/jinja";
import { ConfigError } from "@llava-ts/errors";

/** A chat message; fields other than role and content (tool_calls, name, ...) reach the template as given. */
export interface ChatMessage {
  role: string;
  content: string;
  name?: string;
  tool_calls?: unknown[];
}

export interface RenderChatTemplateOptions {
  addGenerationPrompt?: boolean;
  tools?: unknown[];
  documents?: unknown[];
  /** Extra variables for the template (transformers' **kwargs). */
  variables?: Record<string, unknown>;
}

// Parsing a template is the slow part; templates are few and long-lived.
const compiled = new Map<string, Template>();

function compile(source: string): Template {
  let template = compiled.get(source);
  if (!template) {
    try {
      template = new Template(source);
    } catch (err) {
      throw new ConfigError(`chat template does not parse: ${(err as Error).message}`, "chat_template");
    }
    compiled.set(source, template);
  }
  return template;
}

export function renderChatTemplate(
  source: string,
  messages: readonly ChatMessage[],
  specialTokens: Record<string, unknown>,
  options: RenderChatTemplateOptions = {},
): string {
  const template = compile(source);
  try {
    return template.render({
      ...specialTokens,
      ...options.variables,
      // Copies, so a template that mutates its input cannot reach the caller's objects.
      messages: messages.map((m) => ({ ...m })),
      tools: options.tools,
      documents: options.documents,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    });
  } catch (err) {
    // A template is code from the model folder: its failures name it, not the Jinja engine's internals.
    throw new ConfigError(`chat_template: fails to render: ${(err as Error).message}`, "chat_template");
  }
}

/** Picks a template by name (or takes `choice` as the Jinja source itself); "default" when none is asked. */
export function selectChatTemplate(templates: Record<string, string>, choice?: string): string {
  if (choice !== undefined) return templates[choice] ?? choice;
  const names = Object.keys(templates);
  if (names.length === 0)
    throw new ConfigError(
      "this tokenizer has no chat template (none in tokenizer_config.json, chat_template.jinja or chat_template.json)",
      "chat_template",
    );
  const template = templates.default;
  if (template === undefined)
    throw new ConfigError(
      `several chat templates (${names.join(", ")}) and no "default": pass chatTemplate`,
      "chat_template",
    );
  return template;
}
