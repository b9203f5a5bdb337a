// The tenth, optional chapter, "Look inside": what the logit lens shows at each layer for the live prompt, and
// which attention head this prompt's prediction leans on most, measured by the server (POST /api/heads) by
// switching each head off in turn. Pure: the same input gives the same steps; every number comes from the input.
import { settlingLayer } from "../data/inspection.js";

export const LOOK_INSIDE_CHAPTER = { id: "look_inside", title: { ko: "들여다보기", en: "Look inside" } };

const pct = (p) => `${(p * 100).toFixed(1)}%`;
const points = (drop) => Number((drop * 100).toPrecision(2)).toString();  // a drop in percentage points, 2 digits
const code = (piece) => `\`${String(piece).replace(/`/g, "'").replace(/\n/g, "\\n")}\``;

/** Head effects from POST /api/heads -> {most: {layer, head, prob}, least, median} or null. */
export function rankHeads(heads) {
  if (!heads?.ablated?.length) return null;
  const all = heads.ablated.flatMap((row, layer) => row.map((prob, head) => ({ layer, head, prob })));
  const sorted = [...all].sort((a, b) => a.prob - b.prob || a.layer - b.layer || a.head - b.head);
  return { most: sorted[0], least: sorted.at(-1), median: sorted[Math.floor(sorted.length / 2)].prob, count: all.length };
}

const TEXT = {
  en: {
    lensTitle: "The answer forming, layer by layer",
    lensWaiting: () => "The logit lens reads each block's output as if it were the model's last: the final norm and the unembedding turn the residual stream into a guess at every layer. Its column opens on the left of the scene for this step; the pass runs again to fill it.",
    lens: ({ piece, position, rows, settled, final, layers }) => `The logit lens reads each block's output as if it were the model's last: the final norm and the unembedding, softmax at temperature 1. For the last position (${code(piece)}, t = ${position}), block by block: ${rows}.\n\n${settled === null ? `The final guess ${code(final)} is not on top before the last block.` : settled === 0 ? `The final guess ${code(final)} is on top from the first block on, and later blocks only make it surer.` : `The final guess ${code(final)} takes the top place at block ${settled} and keeps it through block ${layers - 1}.`} The column on the left shows every position; hover a cell for its top 5.`,
    row: (layer, piece, prob) => `after block ${layer}, ${code(piece)} ${pct(prob)}`,
    headsTitle: "Which head this prediction needs most",
    headsWaiting: (count) => `To find out, the server runs this prompt ${count} more times, each time with one attention head's output set to zero, and watches the probability of the model's answer.`,
    heads: ({ target, clean, most, least, median, count }) => `The model's next-token guess is ${code(target)} at ${pct(clean)}. Switching off each of the ${count} attention heads alone (its output z set to zero) and running the pass again: the guess falls most without head ${most.head} of block ${most.layer}, ${points(clean - most.prob)} points, to ${pct(most.prob)}; it stays highest without head ${least.head} of block ${least.layer} (${pct(least.prob)}); half the heads leave it at ${pct(median)} or more.\n\nTry it: press "Click to ablate" below the scene and click head ${most.head} of block ${most.layer}. Every later block then shows its change from the clean pass, and the bars show both distributions.`,
    headsFailed: (message) => `The measurement failed: ${message}`,
  },
  ko: {
    lensTitle: "층마다 만들어지는 답",
    lensWaiting: () => "로짓 렌즈는 각 블록의 출력을 마지막 블록의 출력인 것처럼 읽습니다. 최종 정규화와 언임베딩을 거치면 잔차 스트림이 층마다 하나의 추측이 됩니다. 이 단계에서는 장면 왼쪽에 렌즈 열이 열리고, 그 열을 채우려고 패스를 한 번 더 실행합니다.",
    lens: ({ piece, position, rows, settled, final, layers }) => `로짓 렌즈는 각 블록의 출력을 마지막 블록의 출력인 것처럼 읽습니다. 최종 정규화와 언임베딩을 거친 뒤 온도 1로 소프트맥스를 합니다. 마지막 위치(${code(piece)}, t = ${position})를 블록마다 보면: ${rows}.\n\n${settled === null ? `최종 추측(${code(final)})은 마지막 블록 전까지 1위가 아닙니다.` : settled === 0 ? `최종 추측(${code(final)})은 첫 블록부터 1위이고, 뒤의 블록들은 확신만 키웁니다.` : `최종 추측(${code(final)})은 블록 ${settled}에서 1위에 올라 블록 ${layers - 1}까지 자리를 지킵니다.`} 왼쪽 열은 모든 위치를 보여 주고, 칸에 마우스를 올리면 상위 5개가 보입니다.`,
    row: (layer, piece, prob) => `블록 ${layer} 뒤 ${code(piece)} ${pct(prob)}`,
    headsTitle: "이 예측에 가장 필요한 헤드",
    headsWaiting: (count) => `알아보려고 서버가 이 프롬프트를 ${count}번 더 실행합니다. 매번 어텐션 헤드 하나의 출력을 0으로 만들고, 모델이 내놓는 답의 확률을 지켜봅니다.`,
    heads: ({ target, clean, most, least, median, count }) => `모델의 다음 토큰 추측은 ${code(target)}, 확률 ${pct(clean)}입니다. 어텐션 헤드 ${count}개를 하나씩 끄고(출력 z를 0으로) 패스를 다시 실행하면: 블록 ${most.layer}의 헤드 ${most.head}를 껐을 때 ${points(clean - most.prob)}%p 떨어져 ${pct(most.prob)}가 되어 가장 크게 줄어듭니다. 블록 ${least.layer}의 헤드 ${least.head}를 껐을 때 가장 높게 남고(${pct(least.prob)}), 헤드의 절반은 ${pct(median)} 이상을 남깁니다.\n\n직접 해 보세요: 장면 아래의 "클릭해서 끄기"를 누르고 블록 ${most.layer}의 헤드 ${most.head}를 클릭하면, 뒤의 모든 블록이 원래 패스와의 차이로 칠해지고 막대가 두 분포를 함께 보여 줍니다.`,
    headsFailed: (message) => `측정에 실패했습니다: ${message}`,
  },
};

/**
 * input: {header, lensLayers: [{layer, top}], heads: POST /api/heads answer | {error} | null}.
 * -> two steps of chapter "look_inside": the lens, then the heads.
 */
export function lookInsideSteps(input, lang) {
  const text = TEXT[lang] ?? TEXT.en;
  const { header } = input;
  const L = header.model.config.n_layer;
  const H = header.model.config.n_head;
  const T = header.tokens.length;
  const resids = Array.from({ length: L }, (_, i) => `blocks.${i}.hook_resid_post`);
  const layers = input.lensLayers ?? [];
  let lensText = text.lensWaiting();
  if (layers.length === L) {
    const position = T - 1;
    const rows = layers.map((l) => text.row(l.layer, l.top[position][0].piece, l.top[position][0].prob)).join(", ");
    lensText = text.lens({ piece: header.tokens[position].piece, position, rows, settled: settlingLayer(layers, position),
      final: layers.at(-1).top[position][0].piece, layers: L });
  }
  const ranked = rankHeads(input.heads);
  let headsText = text.headsWaiting(L * H);
  if (input.heads?.error) headsText = text.headsFailed(input.heads.error);
  else if (ranked) {
    headsText = text.heads({ target: input.heads.target.piece, clean: input.heads.target.prob, ...ranked });
  }
  const headFocus = ranked ? [`blocks.${ranked.most.layer}.attn.hook_z`, `blocks.${ranked.most.layer}.hook_attn_out`] : [`blocks.0.attn.hook_z`];
  return [
    { chapter: "look_inside", id: "look_inside.lens", title: text.lensTitle, text: lensText, focus: resids, camera: resids },
    { chapter: "look_inside", id: "look_inside.heads", title: text.headsTitle, text: headsText, focus: headFocus, camera: headFocus },
  ];
}
