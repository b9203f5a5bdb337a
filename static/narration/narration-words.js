// Pieces of narration text that read the same in every language: sentence joining, quoted tokens, the
// leading values of a vector, GELU examples and the active sampling filters. narration-ko.js and
// narration-en.js build their sentences around these.

import { formatList, formatNumber, tokenCode } from "../ui/format.js";

/** Joins the sentences that apply; a part that is false, null or empty is left out. */
export const sentences = (...parts) => parts.filter(Boolean).join(" ");

/** True when every fact has arrived (is neither null nor undefined). */
export const known = (...values) => values.every((v) => v !== null && v !== undefined);

/** The followed token (the last of the prompt) as inline code. */
export const followedToken = (facts) => tokenCode(facts.token.piece);

/** The first values of a vector, with "…" for the rest. */
export const leadingValues = (values) => `${formatList(values.map((v) => formatNumber(v)))} …`;

/** "GELU(1.00) = 0.84, GELU(−0.99) = −0.16" for the MLP's example channels that exist. */
export const geluExamples = (mlp) => formatList([mlp.positiveExample, mlp.negativeExample].filter(Boolean)
  .map((x) => `GELU(${formatNumber(x.pre)}) = ${formatNumber(x.post)}`));

/** "top-k 2, top-p 0.9" for the filters that are on, or "" when none is. */
export const activeFilters = (output) => formatList([output.topK !== null && `top-k ${output.topK}`,
  output.topP !== null && `top-p ${output.topP}`].filter(Boolean));
