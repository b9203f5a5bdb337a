// The scene's own words (block names, axis names, layer titles) in the page's language. Labels are built
// in English from the header; this swaps whole phrases, longest first, and leaves the notation alone
// (Q, W_q, LN1, μ, σ, γ, β, T×C), which reads the same in every language.

const KOREAN = [
  ["Transformer block", "트랜스포머 블록"],
  ["Block", "블록"],
  ["RMSNorm", "RMS 정규화"],
  ["LayerNorm", "레이어 정규화"],
  ["Gated MLP", "게이트 MLP"],
  ["Attention", "어텐션"],
  ["Projection", "투영"],
  ["Embedding", "임베딩"],
  ["Softmax", "소프트맥스"],
  ["Output", "출력"],
  ["rotary angle", "회전 각도"],
  ["token embedding", "토큰 임베딩"],
  ["position embedding", "위치 임베딩"],
  ["residual in", "잔차 입력"],
  ["residual mid", "잔차 중간"],
  ["residual out", "잔차 출력"],
  ["attention out", "어텐션 출력"],
  ["MLP out", "MLP 출력"],
  ["MLP pre", "MLP 확장"],
  ["probabilities", "확률"],
  ["vocabulary", "어휘"],
  ["position", "위치"],
  ["final", "최종"],
  ["logits", "로짓"],
  ["scores", "점수"],
  ["pattern", "패턴"],
  ["tokens", "토큰"],
  ["query", "쿼리"],
  ["block", "블록"],
  ["head", "헤드"],
  ["key", "키"],
  ["out", "출력"],
  ["in", "입력"],
];

// Each phrase as a whole-word pattern, made once: a 30-layer scene translates ~8,000 labels.
const PHRASES = { ko: KOREAN.map(([en, local]) => [new RegExp(`(^|[^A-Za-z_])${en}(?![A-Za-z_])`, "g"), `$1${local}`]) };

/** English scene text -> the same text in `lang` (English and unknown languages are returned as is). */
export function sceneText(text, lang) {
  const phrases = PHRASES[lang];
  if (!phrases) return text;
  let result = text;
  for (const [pattern, local] of phrases) result = result.replace(pattern, local);
  return result;
}
