// Chat mode's pure rules: which token chips are the template's, the user's or the model's, what a request
// adds for a chat model, and the answer's text. The DOM work is ui.js's; these are tested in node.
import { piecesToText } from "./prompt.js";

const SPECIAL_PIECE = /^<\|[^|<>]*\|>$/;  // how ChatML templates spell their control tokens: <|im_start|>, <|im_end|>

/** Per token: "template" (the chat template added it), "prompt" (the user's text) or "generated". */
export function chipKinds(tokens, promptCount) {
  return tokens.map((token, position) => (position >= promptCount ? "generated" : token.template ? "template" : "prompt"));
}

/** Request fields for a model: chat models get `chat`, false when the user asked for the raw prompt. */
export function chatFields(model, raw) {
  return model?.chat ? { chat: !raw } : {};
}

/** The answer's text from the generated tokens, without the stop token that ends it. */
export function answerText(generated) {
  const pieces = generated.map((token) => token.piece);
  while (pieces.length && SPECIAL_PIECE.test(pieces.at(-1))) pieces.pop();
  return piecesToText(pieces);
}
