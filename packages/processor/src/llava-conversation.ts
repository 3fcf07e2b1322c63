// LLaVA conversations in either spelling — {from: human|gpt|system, value} (LLaVA / ShareGPT records) or
// {role: user|assistant|system, content} (chat messages) — checked and mapped to chat-template messages.

import { DataError } from "@llava-ts/core";

export type LlavaTurn =
  | { from: string; value: string; role?: undefined }
  | { role: string; content: string; from?: undefined };

export type ChatRole = "system" | "user" | "assistant";

export interface ChatTurn {
  role: ChatRole;
  content: string;
}

/** Where a record came from, carried into DataError so a bad record can be found. */
export interface RecordContext {
  file?: string;
  record?: number;
}

const ROLES: Record<string, ChatRole> = {
  human: "user",
  user: "user",
  gpt: "assistant",
  assistant: "assistant",
  system: "system",
};

export function dataError(ctx: RecordContext, message: string, reason: string): DataError {
  return new DataError(message, ctx.file, ctx.record, reason);
}

/** New message objects with chat roles; the input is never modified. */
export function toChatTurns(conversations: readonly LlavaTurn[], ctx: RecordContext = {}): ChatTurn[] {
  if (!Array.isArray(conversations))
    throw dataError(
      ctx,
      `conversations must be a list, found ${typeof conversations}`,
      "malformed_conversation",
    );
  if (conversations.length === 0) throw dataError(ctx, "conversation is empty", "empty_conversation");
  return conversations.map((turn, i) => {
    if (typeof turn !== "object" || turn === null)
      throw dataError(ctx, `turn ${i} is not an object`, "malformed_conversation");
    const rawRole = turn.from ?? turn.role;
    const content = turn.from !== undefined ? turn.value : turn.content;
    if (typeof rawRole !== "string" || typeof content !== "string")
      throw dataError(
        ctx,
        `turn ${i} needs string "from" + "value" or "role" + "content"`,
        "malformed_conversation",
      );
    const role = ROLES[rawRole];
    if (!role)
      throw dataError(
        ctx,
        `turn ${i} has unknown role "${rawRole}" (expected human, gpt, user, assistant or system)`,
        "unknown_role",
      );
    return { role, content };
  });
}

/** Splits off a leading system turn and checks that the rest alternates user / assistant from a user turn. */
export function splitSystem(
  turns: readonly ChatTurn[],
  ctx: RecordContext,
): { system: string | undefined; dialogue: ChatTurn[] } {
  const hasSystem = turns[0].role === "system";
  const dialogue = turns.slice(hasSystem ? 1 : 0);
  if (dialogue.length === 0)
    throw dataError(ctx, "conversation has a system turn only", "empty_conversation");
  dialogue.forEach((turn, i) => {
    const expected: ChatRole = i % 2 === 0 ? "user" : "assistant";
    if (turn.role === expected) return;
    const where = hasSystem ? i + 1 : i;
    throw dataError(
      ctx,
      i === 0
        ? `conversation must start with a human turn${hasSystem ? " after the system turn" : ""}, found "${turn.role}"`
        : `turn ${where} should be ${expected === "user" ? "human" : "gpt"} (turns alternate), found "${turn.role}"`,
      i === 0 ? "not_starting_with_human" : "bad_turn_order",
    );
  });
  return { system: hasSystem ? turns[0].content : undefined, dialogue };
}

export function countOccurrences(text: string, token: string): number {
  return text.split(token).length - 1;
}

/** Image placeholders must match the images given, and only human (or system) turns may hold them. */
export function checkImageTokens(
  turns: readonly ChatTurn[],
  imageToken: string,
  numImages: number,
  ctx: RecordContext,
): void {
  let found = 0;
  turns.forEach((turn, i) => {
    const n = countOccurrences(turn.content, imageToken);
    if (n > 0 && turn.role === "assistant")
      throw dataError(
        ctx,
        `${imageToken} in gpt turn ${i}: only human turns may hold images`,
        "image_in_answer",
      );
    found += n;
  });
  if (found === numImages) return;
  const message =
    found === 0
      ? `no ${imageToken} in the conversation but ${numImages} image(s) given`
      : `${found} ${imageToken} token(s) in the conversation but ${numImages} image(s) given`;
  throw dataError(ctx, message, "image_token_mismatch");
}
