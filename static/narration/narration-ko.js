// 한국어 내레이션: 단계 id마다 제목 하나와 본문 함수 하나. 본문은 narration-facts.js의 값을 읽고,
// 그 값의 텐서가 도착했을 때만 숫자를 인용합니다.
// 토큰이나 숫자 바로 뒤에는 받침에 따라 모양이 바뀌는 조사(은/는, 이/가, 을/를, 으로/로)를 붙이지 않습니다.
// 대신 '의', '에서', '에게'처럼 모양이 바뀌지 않는 조사나 "N번 헤드", "토큰(…)" 같은 구조를 씁니다.

import {
  formatCount, formatFixed, formatList, formatNumber as num, formatPlain, formatProbability as prob, formatShape,
  tokenCode as code,
} from "../ui/format.js";
import {
  activeFilters, affineEquation, followedToken as tok, gammaBetaNearIdentity, geluExamples, known, leadingValues,
  normalizeEquation, sentences, sumEquation, weightedSumEquation,
} from "./narration-words.js";

const LISTED = 8;  // 한 문장에 나열하는 토큰의 최대 개수

const tokAt = (f, s) => `${s}번 ${code(f.tokens[s].piece)}`;
const offOr = (value) => (value === null ? "끔" : String(value));

export const STEP_TEXT = {
  "introduction.welcome": {
    title: "지금 보고 있는 것",
    text: (f) => sentences(
      `이 화면은 GPT 모델인 ${f.dims.title}에서 프롬프트 ${code(f.tokens.map((x) => x.piece).join(""))}에 대해 일어나는 순전파 한 번을 그대로 보여 줍니다.`,
      known(f.dims.nParams) && `이 모델의 매개변수는 ${formatCount(f.dims.nParams)}개입니다.`,
      "순전파란 가중치는 그대로 둔 채, 프롬프트의 토큰에서 출발해 예측 하나가 나오기까지 계산을 처음부터 끝까지 한 번 수행하는 것을 말합니다.",
      "장면 속 블록 하나하나가 모델이 실제로 계산한 텐서이고, 블록의 칸 하나가 그 텐서의 숫자 하나입니다.",
      "모델이 하는 일은 단 하나, 다음에 올 토큰을 맞히는 것입니다.",
      f.output.sortTask && `이 모델은 정렬을 배웠습니다. 글자 ${f.output.sortTask.promptLength}개를 읽고 나면 같은 글자들을 순서대로 다시 씁니다. ${code(f.output.sortTask.question)}에 대한 목표 답은 ${code(f.output.sortTask.goal)}입니다. 순전파 한 번에 한 글자씩 만들어집니다.`,
    ),
  },
  "introduction.journey": {
    title: "모델을 지나는 길",
    text: (f) => sentences(
      "순전파는 장면의 위에서 아래로 흘러갑니다.",
      `먼저 프롬프트의 토큰 ${f.dims.T}개가 각각 숫자 ${f.dims.C}개짜리 벡터가 됩니다(임베딩).`,
      `이 벡터들은 트랜스포머 블록 ${f.dims.L}개를 차례로 지납니다. 블록마다 벡터를 정규화하고(레이어 정규화), 각 토큰이 앞선 토큰들에게서 정보를 모으고(셀프 어텐션), 그 결과를 투영해 원래 흐름에 더한 뒤(투영), 토큰마다 따로 작은 신경망을 거칩니다(MLP, 피드 포워드 네트워크 또는 FFN이라고도 부릅니다).`,
      "끝에서는 마지막 토큰의 벡터가 어휘의 모든 항목에 대한 점수로 바뀌고, 그 점수가 다시 확률로 바뀝니다(소프트맥스, 출력).",
    ),
  },
  "introduction.reading": {
    title: "장면 읽는 법",
    text: () => sentences(
      "프롬프트의 토큰마다 세로 열이 하나씩 있고, 왼쪽부터 순서대로 놓여 있습니다. 숫자들은 모델을 따라 아래로 흘러내려 갑니다.",
      "칸의 색은 값의 부호와 크기를 나타내며, 절댓값이 클수록 밝아집니다. 활성값(이 프롬프트에 대해 모델이 계산한 값)은 음수가 파란색, 양수가 주황색입니다. 가중치(학습으로 정해진 값)는 음수가 보라색, 양수가 초록색입니다. 평균이나 표준편차 같은 요약값은 얇은 블록에 담기며, 음수는 연두색, 양수는 분홍색입니다.",
      "가중치 행렬은 자신과 곱해지는 활성값 옆에 서 있습니다. 화면의 행렬은 모두 토큰이 왼쪽에서 오른쪽으로 놓이도록 돌려서 그렸습니다. 그래서 토큰 하나의 벡터는 세로 열 하나이고, 수식에서 표(예: 임베딩 표 wte)의 i번 행이라고 부르는 것은 화면에서 i번 열입니다. 블록 이름표에는 화면에 그려진 모양이 행×열로 적혀 있습니다(예: wte · 토큰 임베딩 · C×V).",
      "칸 위에 마우스를 올리면 그 값과 계산 방법이 나타납니다. 드래그하면 회전, 휠을 굴리면 확대·축소, W·A·S·D 키로 걸어 다닐 수 있습니다.",
    ),
  },
  "introduction.sizes": {
    title: "모델의 크기",
    text: (f) => sentences(
      `이 모델 안에서 토큰 하나는 숫자 C = ${f.dims.C}개로 된 벡터이며, 이 숫자 하나하나를 채널이라고 부릅니다.`,
      `블록마다 어텐션 헤드가 H = ${f.dims.H}개 있습니다. 헤드는 앞선 토큰 가운데 어디에서 정보를 읽어 올지를 저마다 따로 정하는, 나란히 일하는 단위입니다(셀프 어텐션 장에서 자세히 봅니다). 헤드 하나는 D = ${f.dims.C} / ${f.dims.H} = ${f.dims.D}개 채널을 맡고, MLP는 벡터를 F = ${f.dims.F}개 채널로 넓힙니다.`,
      `어휘에는 토큰이 V = ${f.dims.V}개 있고, 모델은 한 번에 최대 ${f.dims.nCtx}개 위치까지 읽을 수 있습니다.`,
      `위치는 0부터 세므로 프롬프트의 토큰은 0번부터 ${f.dims.T - 1}번 위치까지 놓입니다.`,
    ),
  },

  "embedding.tokens": {
    title: "텍스트에서 토큰 인덱스로",
    text: (f) => sentences(
      `먼저 프롬프트를 토큰으로 자르고, 각 토큰을 어휘 안의 인덱스로 바꿉니다: ${formatList(f.tokens.map((x) => `${code(x.piece)} → ${x.id}`), LISTED + 4)}.`,
      f.dims.vocabulary === "letters" && "이 모델에서는 글자 하나가 곧 토큰 하나입니다.",
      f.dims.vocabulary === "bpe" && `이 모델은 조각 ${formatCount(f.dims.V)}개짜리 바이트 수준 BPE 토크나이저로 텍스트를 자릅니다. 자주 쓰는 단어는 조각 하나로, 드문 단어는 여러 조각으로 나뉘며, ␣는 단어 앞의 공백을, ↵는 줄바꿈을 나타냅니다.`,
      `여기서부터 모델이 다루는 것은 이 정수 ${f.dims.T}개뿐이고, 텍스트 자체는 더 이상 남아 있지 않습니다.`,
    ),
  },
  "embedding.lookup": {
    title: "토큰 임베딩 찾아보기",
    text: (f) => sentences(
      `토큰 임베딩 wte는 어휘 항목 ${f.dims.V}개마다 숫자 ${f.dims.C}개짜리 행이 하나씩 있는 표입니다(${formatShape([f.dims.V, f.dims.C])}). 화면에서는 wte · 토큰 임베딩 · C×V로 돌려 그렸으므로 행 하나가 열 하나입니다.`,
      `마지막 토큰 ${tok(f)}의 인덱스는 ${f.token.id}입니다. 그래서 표의 ${f.token.id}번 행(화면에서는 ${f.token.id}번 열)을 그대로 복사해 이 토큰의 벡터로 씁니다.`,
      f.embedding.embedFirst && `벡터의 앞부분: ${leadingValues(f.embedding.embedFirst)}`,
      "이 행들은 학습으로 정해진 값이어서, 비슷하게 쓰이는 토큰일수록 비슷한 행을 갖게 됩니다.",
    ),
  },
  "embedding.position": {
    title: "위치 더하기",
    text: (f) => sentences(
      "같은 토큰이라도 어디에 놓이느냐에 따라 뜻이 달라질 수 있는데, 어텐션만으로는 위치를 구별하지 못합니다.",
      `그래서 위치 임베딩 wpe라는 두 번째 표(${formatShape([f.dims.nCtx, f.dims.C])}, 화면에서는 wpe · 위치 임베딩 · C×n_ctx)가 위치 ${f.dims.nCtx}개마다 학습된 행을 하나씩 갖고 있습니다.`,
      `${tok(f)}의 자리는 ${f.t}번 위치이므로, 이 토큰은 ${f.t}번 행을 받습니다.`,
      f.embedding.positionFirst && `그 행의 앞부분: ${leadingValues(f.embedding.positionFirst)}`,
    ),
  },
  "embedding.sum": {
    title: "토큰 + 위치",
    text: (f) => {
      const e = f.embedding;
      return sentences(
        "두 벡터를 채널별로 더합니다.",
        known(e.embed0, e.position0, e.sum0) &&
          `${f.t}번 위치의 ${tok(f)}에서 채널 0의 값: ${sumEquation(e.embed0, e.position0, e.sum0)}.`,
        `모든 토큰에 대해 이렇게 하면 ${formatShape([f.dims.T, f.dims.C])} 행렬이 되는데, 이것이 바로 잔차 스트림입니다.`,
        "이 스트림이 0번 블록으로 들어가고, 이후의 모든 단계는 여기서 값을 읽고 자기 결과를 여기에 더합니다.",
      );
    },
  },

  "layer_norm.why": {
    title: "왜 정규화하는가",
    text: (f) => {
      const s = f.stack;
      return sentences(
        `어텐션에 들어가기 전에 각 토큰의 벡터를 정규화합니다(레이어 정규화, 계층 정규화라고도 합니다). 숫자 ${f.dims.C}개의 평균이 0, 표준편차가 1이 되도록 옮기고 크기를 맞추는 것입니다.`,
        "GPT-2에서는 이 정규화가 스트림 자체를 바꾸지 않습니다. 크기를 맞춘 사본을 어텐션 층에 건네줄 뿐입니다. 그래서 스트림이 아무리 커져도 어텐션 층은 늘 같은 크기의 입력을 받고, 가중치가 안정된 범위에서 일하므로 학습도 안정됩니다.",
        known(s.entering[0], s.leaving) && `실제로 스트림은 커집니다. ${tok(f)} 벡터의 길이는 0번 블록에 들어갈 때 ${num(s.entering[0])}이고, 마지막 블록을 나온 뒤에는 ${num(s.leaving)}입니다.`,
        "이런 배치를 pre-LN이라고 합니다. 원래의 트랜스포머와 이를 설명하는 많은 글은 정규화를 잔차 덧셈 뒤에 두어 스트림 자체를 정규화하는데, 이를 post-LN이라고 합니다.",
        "정규화는 토큰마다 따로, 그 토큰 자신의 채널만 보고 합니다.",
      );
    },
  },
  "layer_norm.mean": {
    title: "1단계: 평균 μ",
    text: (f) => sentences(
      `먼저 토큰마다 숫자 ${f.dims.C}개의 평균 μ를 구합니다.`,
      known(f.layerNorm.mean) && `${f.t}번 위치의 ${tok(f)}에서는 μ = ${num(f.layerNorm.mean)}입니다.`,
      `스트림 옆의 얇은 블록에 토큰 ${f.dims.T}개의 μ가 하나씩 담겨 있습니다.`,
    ),
  },
  "layer_norm.std": {
    title: "2단계: 퍼진 정도 σ",
    text: (f) => sentences(
      "다음은 표준편차입니다: σ = √((x − μ)²의 평균 + ε).",
      `여기 더하는 ε = ${num(f.dims.epsilon)}은 아주 작은 수로, 행의 값들이 거의 같을 때 0으로 나누는 일을 막아 줄 뿐입니다.`,
      known(f.layerNorm.std) && `${tok(f)}의 σ = ${num(f.layerNorm.std)}입니다.`,
      "μ와 마찬가지로 토큰마다의 σ도 얇은 블록에 따로 담깁니다.",
    ),
  },
  "layer_norm.normalize": {
    title: "3단계: 정규화",
    text: (f) => {
      const ln = f.layerNorm;
      return sentences(
        "이제 각 숫자 x를 (x − μ) / σ로 바꿉니다.",
        known(ln.input0, ln.mean, ln.std, ln.normalized0) &&
          `${tok(f)}의 채널 0: ${normalizeEquation(ln.input0, ln.mean, ln.std, ln.normalized0)}.`,
        known(ln.normalizedMean)
          ? `원래 행이 어떤 모양이었든, 이제 이 행의 평균과 표준편차는 각각 ${formatFixed(ln.normalizedMean)}, ${formatFixed(ln.normalizedStd)}입니다.`
          : `그러고 나면 ${formatShape([f.dims.T, f.dims.C])} 행렬의 모든 행은 원래 모양과 상관없이 평균 0, 표준편차 1을 갖게 됩니다.`,
      );
    },
  },
  "layer_norm.scale_shift": {
    title: "4단계: 크기 조절과 이동 (γ, β)",
    text: (f) => {
      const ln = f.layerNorm;
      const x = ln.example;
      const fin = f.final.norm;
      const nearIdentity = gammaBetaNearIdentity(ln);
      let example = null;
      if (x && known(x.gamma, x.beta)) {
        example = `${tok(f)}에서 값이 ${nearIdentity ? "그나마 " : ""}가장 크게 바뀌는 곳은 채널 ${x.channel}입니다. 정규화된 값 × γ + β: ${affineEquation(x.normalized, x.gamma, x.beta, x.out)}.`;
      } else if (x) {
        example = `${tok(f)}에서 값이 가장 크게 바뀌는 곳은 채널 ${x.channel}입니다: ${num(x.normalized)} → ${num(x.out)}.`;
      }
      return sentences(
        "마지막으로 채널마다 학습된 가중치 γ를 곱하고 학습된 편향 β를 더합니다. 덕분에 모델은 채널마다 쓸모 있는 크기를 스스로 정할 수 있습니다.",
        nearIdentity &&
          `이 블록에서는 학습을 거친 뒤에도 γ가 1에 가깝고(${num(ln.gammaRange[0])}~${num(ln.gammaRange[1])}) β가 0에 가까워서(${num(ln.betaRange[0])}~${num(ln.betaRange[1])}), 출력이 정규화된 입력과 거의 같습니다.`,
        example,
        nearIdentity && fin.gammaRange &&
          `예측 직전의 마지막 레이어 정규화(ln_f)는 이보다 크게 바꿉니다. 그 γ는 ${num(fin.gammaRange[0])}부터 ${num(fin.gammaRange[1])}까지 퍼져 있습니다.`,
        "어텐션 층이 읽는 것은 바로 이 출력입니다.",
      );
    },
  },

  "self_attention.idea": {
    title: "토큰들이 서로를 본다",
    text: (f) => sentences(
      "지금까지는 토큰 하나하나가 따로 처리되었습니다. 셀프 어텐션(자기 주의)에서 비로소 토큰들이 정보를 주고받습니다. 각 토큰은 자기 자신과 앞선 토큰들로부터 자신에게 도움이 되는 정보를 모읍니다.",
      `여기서는 0번 블록에서 마지막 토큰(${f.t}번 위치의 ${tok(f)})을 ${f.attention.head}번 헤드 하나를 통해 따라가 봅니다.`,
      "헤드는 마지막에 앞선 토큰마다 어텐션 가중치를 하나씩 내놓습니다. 그 토큰의 정보를 얼마나 가져올지를 정하는 값이며, 다음 단계들에서 이 값이 만들어지는 과정을 봅니다.",
    ),
  },
  "self_attention.qkv": {
    title: "쿼리, 키, 값",
    text: (f) => sentences(
      "정규화된 벡터에 가중치 행렬 세 개를 각각 곱하고 편향을 더하면 토큰마다 새 벡터 세 개가 나옵니다. 쿼리(내가 찾는 것은 무엇인가), 키(내가 내놓을 수 있는 것은 무엇인가), 값(선택되면 건네줄 내용)입니다.",
      `세 벡터는 각각 ${f.dims.D}개 채널씩 ${f.dims.H}개 헤드로 나뉘어, 헤드마다 자기 몫만 다룹니다. 화면에서는 헤드마다 W_q, W_k, W_v · 헤드 h · ${formatShape(["D", "C"])}(${formatShape([f.dims.D, f.dims.C])}) 블록이 따로 있고, 체크포인트에서는 이들이 모두 c_attn(${formatShape([f.dims.C, 3 * f.dims.C])}) 행렬 하나에 함께 들어 있습니다.`,
      f.attention.qFirst && `${f.attention.head}번 헤드에서 ${tok(f)}의 쿼리 앞부분: ${leadingValues(f.attention.qFirst)}`,
    ),
  },
  "self_attention.scores": {
    title: "내적, 그리고 √D로 나누기",
    text: (f) => sentences(
      `어디를 볼지 정하기 위해 ${tok(f)}의 쿼리를 모든 토큰의 키와 내적(점곱)으로 비교합니다. 채널끼리 곱한 뒤 모두 더하는 것입니다.`,
      `그 합을 √D = √${f.dims.D} = ${formatPlain(Math.sqrt(f.dims.D))}로 나눕니다. 이유는 이렇습니다. 내적은 곱 D개를 더한 값이라 전형적인 크기가 √D에 비례해 커집니다. 나누지 않으면 헤드가 넓을수록 점수가 크게 벌어지고, 뒤따르는 소프트맥스가 가중치를 거의 전부 키 하나에 몰아주게 됩니다. 그러면 기울기(학습할 때 가중치를 어느 쪽으로 고칠지 알려 주는 신호)가 거의 사라져 학습이 멈춥니다.`,
      `이 계산은 토큰을 하나씩 차례로 하지 않습니다. 쿼리 ${f.dims.T}개와 키 ${f.dims.T}개가 행렬 곱 한 번으로 한꺼번에, 병렬로 만납니다.`,
      f.attention.scores &&
        `${f.attention.head}번 헤드 점수의 ${f.t}번 행: ${formatList(f.attention.scores.map((x) => `${tokAt(f, x.key)} ${num(x.value)}`), LISTED)}.`,
    ),
  },
  "self_attention.mask": {
    title: "인과 마스크",
    text: (f) => sentences(
      "토큰은 이전 토큰만 볼 수 있고 이후 토큰은 볼 수 없습니다. 모델이 글을 쓸 때는 현재 토큰 다음의 토큰이 아직 존재하지 않으므로, 학습도 그 조건에 맞춰야 하기 때문입니다.",
      f.dims.T > 1
        ? `그래서 이후 위치에 대한 점수는 모두 가립니다. 소프트맥스 전에 그 점수를 −∞로 바꾸는 것이며, ${formatShape([f.dims.T, f.dims.T])} 점수 행렬의 오른쪽 위 삼각형에 빗금 친 칸으로, 헤드마다 ${f.attention.maskedPerHead}칸입니다. e^(−∞) = 0이므로 그 키들의 가중치는 정확히 0이 됩니다. 첫 토큰(${code(f.tokens[0].piece)})은 자기 자신만, 마지막 토큰(${tok(f)})은 ${f.dims.T}개 모두를 볼 수 있습니다.`
        : "토큰이 하나뿐이면 가릴 이후 위치가 없어서, 그 토큰은 자기 자신만 봅니다.",
    ),
  },
  "self_attention.softmax": {
    title: "소프트맥스: 점수를 가중치로",
    text: (f) => {
      const a = f.attention;
      return sentences(
        "점수의 각 행에 소프트맥스를 적용합니다. 점수마다 지수함수를 취한 뒤 행 전체의 합으로 나누므로, 가중치는 모두 양수이고 합이 1이 됩니다. 이것이 어텐션 가중치입니다. 가려진 위치의 가중치는 정확히 0입니다.",
        a.top && a.pattern &&
          `${a.head}번 헤드에서 ${tok(f)}의 어텐션 가운데 가장 큰 몫인 ${prob(a.top.weight)}만큼이 ${a.top.key}번 위치의 ${code(f.tokens[a.top.key].piece)}에게 갑니다. 행 전체: ${formatList(a.pattern.map((x) => `${tokAt(f, x.key)} ${prob(x.weight)}`), LISTED)}.`,
        a.spread && a.peakRange &&
          `0번 블록의 어텐션은 아직 고르게 퍼져 있습니다. 보이는 토큰 ${f.t + 1}개에 똑같이 나누면 하나에 ${prob(a.uniform)}씩인데, 헤드 ${f.dims.H}개의 가장 큰 가중치도 ${prob(a.peakRange[0])}~${prob(a.peakRange[1])}에 그칩니다.` +
          (f.stack.clearest && f.stack.clearest.layer > 0 ? ` 뒤쪽 블록일수록 더 집중합니다. ${f.stack.clearest.layer}번 블록의 ${f.stack.clearest.head}번 헤드가 키 하나에 주는 가중치는 ${prob(f.stack.clearest.weight)}입니다.` : ""),
      );
    },
  },
  "self_attention.weighted_sum": {
    title: "값의 가중합",
    text: (f) => {
      const a = f.attention;
      const sum = a.zTerms && weightedSumEquation(a.zTerms, a.z0);
      return sentences(
        `${tok(f)}에 대한 이 헤드의 출력은, 볼 수 있는 모든 토큰의 값 벡터에 각자의 어텐션 가중치를 곱해 더한 것입니다. 가중치가 큰 토큰일수록 결과에 크게 반영됩니다.`,
        sum && (sum.omitted
          ? `채널 0에서 가중치 × 값을 큰 항부터 ${sum.shown.length}개 적고, 나머지 ${sum.omitted}개 항은 합쳐서 마지막에 적으면: ${sum.equation}.`
          : `채널 0에서 보이는 토큰 ${sum.shown.length}개의 가중치 × 값을 큰 항부터 모두 적으면: ${sum.equation}.`),
        `결과 z는 토큰마다 헤드당 ${f.dims.D}개 채널을 갖습니다.`,
      );
    },
  },
  "self_attention.heads": {
    title: "나란히 선 헤드들",
    text: (f) => sentences(
      `${f.dims.H}개 헤드는 모두 같은 계산을 각자의 가중치로 동시에 수행하며, 저마다 다른 곳을 볼 수 있습니다. 이렇게 여러 헤드를 나란히 쓰는 것을 멀티헤드 어텐션(multi-head attention)이라고 합니다.`,
      f.attention.heads &&
        `0번 블록에서 ${tok(f)}의 어텐션이 가장 많이 향하는 곳: ${formatList(f.attention.heads.map((x) => `${x.head}번 헤드 → ${tokAt(f, x.key)} (${prob(x.weight)})`))}.`,
    ),
  },

  "projection.merge": {
    title: "헤드 합치기",
    text: (f) => sentences(
      `헤드마다 토큰당 숫자 ${f.dims.D}개를 만들었습니다.`,
      `${f.dims.H}개 헤드의 출력을 나란히 이어 붙이면 토큰마다 다시 ${f.dims.H} × ${f.dims.D} = ${f.dims.C}개 채널의 벡터가 되고, 전체는 잔차 스트림과 같은 ${formatShape([f.dims.T, f.dims.C])} 모양의 행렬이 됩니다.`,
    ),
  },
  "projection.linear": {
    title: "출력 투영",
    text: (f) => sentences(
      `이어 붙인 벡터에 투영 행렬(화면의 W_proj · C×C, 체크포인트의 c_proj, ${formatShape([f.dims.C, f.dims.C])})을 곱하고 편향을 더합니다.`,
      "여러 헤드가 따로 찾아낸 것을 섞어서 스트림의 채널로 다시 표현하는 과정입니다.",
      known(f.projection.attnOut0) && `${tok(f)}의 어텐션 출력, 채널 0: ${num(f.projection.attnOut0)}.`,
    ),
  },
  "projection.residual": {
    title: "잔차 연결",
    text: (f) => {
      const p = f.projection;
      return sentences(
        "어텐션 출력은 스트림을 대신하지 않고 스트림에 더해집니다.",
        known(p.residPre0, p.attnOut0, p.residMid0) &&
          `${tok(f)}의 채널 0: ${sumEquation(p.residPre0, p.attnOut0, p.residMid0)}.`,
        "블록은 보정값만 더하므로 앞 단계에서 얻은 정보가 그대로 흘러 지나가고, 학습할 때도 기울기가 네트워크를 거슬러 곧장 돌아갈 길이 생깁니다. 블록을 깊이 쌓아도 학습이 안정적인 이유가 여기에 있습니다.",
      );
    },
  },

  "mlp.norm": {
    title: "다시 정규화",
    text: (f) => sentences(
      "블록의 후반부인 MLP(피드 포워드 네트워크, FFN)도 전반부처럼 자기만의 레이어 정규화로 시작합니다. γ와 β도 따로 있습니다.",
      known(f.mlp.norm.mean, f.mlp.norm.std) &&
        `정규화하기 전 ${tok(f)}의 갱신된 벡터: 평균 μ = ${num(f.mlp.norm.mean)}, 표준편차 σ = ${num(f.mlp.norm.std)}.`,
    ),
  },
  "mlp.expand": {
    title: "4배로 넓히기",
    text: (f) => sentences(
      `토큰마다 숫자 ${f.dims.C}개에 ${formatShape([f.dims.C, f.dims.F])} 행렬(화면의 W_fc · F×C, 체크포인트의 c_fc)을 곱하고 편향을 더해, 벡터를 네 배인 ${f.dims.F}개 채널로 넓힙니다.`,
      "넓어진 공간 덕분에 신경망은 벡터 속에서 여러 가지 패턴을 한꺼번에 찾아볼 수 있습니다.",
      f.mlp.lowest && f.mlp.highest &&
        `${tok(f)}의 경우 ${f.dims.F}개 값은 ${num(f.mlp.lowest.pre)}부터 ${num(f.mlp.highest.pre)}까지 퍼져 있고, 그중 양수는 ${f.mlp.positiveCount}개입니다.`,
    ),
  },
  "mlp.gelu": {
    title: "GELU",
    text: (f) => sentences(
      "그다음 GELU 활성화 함수를 숫자 하나하나에 따로 적용합니다. 큰 양수는 거의 그대로 통과하고, 큰 음수는 0 가까이로 눌리며, 0 근처의 값은 그 사이에서 부드럽게 휘어집니다.",
      "이렇게 곧은 선에서 휘어지는 성질이 바로 비선형성입니다. 이것이 없으면 행렬 곱 두 번이 하나의 선형 변환으로 합쳐져 버려, 신경망은 직선적인 관계밖에 배우지 못합니다.",
      geluExamples(f.mlp) && `${tok(f)}의 행에서: ${geluExamples(f.mlp)}.`,
    ),
  },
  "mlp.contract": {
    title: "다시 줄이기",
    text: (f) => sentences(
      `두 번째 행렬(화면의 W_mlp_proj · C×F, 체크포인트에서는 MLP의 c_proj, ${formatShape([f.dims.F, f.dims.C])})과 편향이 ${f.dims.F}개 채널을 다시 ${f.dims.C}개로 줄여, 결과가 잔차 스트림에 맞는 모양이 되게 합니다.`,
      known(f.mlp.out0) && `${tok(f)}의 채널 0: ${num(f.mlp.out0)}.`,
    ),
  },
  "mlp.residual": {
    title: "두 번째 잔차 연결",
    text: (f) => {
      const m = f.mlp;
      return sentences(
        "MLP 출력도 어텐션 출력처럼 스트림에 더해집니다.",
        known(m.residMid0, m.out0, m.residPost0) &&
          `${tok(f)}의 채널 0: ${sumEquation(m.residMid0, m.out0, m.residPost0)}.`,
        "MLP는 토큰마다 따로 작동한다는 점에 주목하세요. 위치 사이에서 정보를 옮기는 것은 어텐션뿐입니다.",
        "이 합이 0번 블록을 떠나는 값입니다.",
      );
    },
  },

  "transformer.stack": {
    title: "블록 쌓기",
    text: (f) => sentences(
      "지금까지 따라온 것이 트랜스포머 블록 하나입니다: 레이어 정규화, 어텐션, 투영과 잔차 연결, 다시 레이어 정규화, MLP와 잔차 연결.",
      `이 모델은 이런 블록 ${f.dims.L}개를 쌓았고, 블록마다 가중치가 따로 있습니다.`,
      f.dims.L > 1
        ? `한 블록의 출력이 그대로 다음 블록의 입력이 됩니다. 0번 블록의 결과가 1번 블록에 들어가고, 이렇게 ${f.dims.L - 1}번 블록까지 이어집니다.`
        : "이 블록의 출력은 곧바로 마지막 레이어 정규화로 넘어갑니다.",
    ),
  },
  "transformer.stream": {
    title: "잔차 스트림",
    text: (f) => {
      const s = f.stack;
      const all = known(...s.entering, s.leaving);
      return sentences(
        "스트림은 모든 블록을 곧게 관통해 흘러내립니다. 블록마다 레이어 정규화를 거쳐 스트림을 읽고, 찾아낸 것을 덧셈으로 되돌려 쓰므로 기여가 차곡차곡 쌓입니다.",
        all &&
          `${tok(f)} 벡터의 길이를 보면 알 수 있습니다: ${formatList(s.entering.map((len, i) => `${i}번 블록에 들어갈 때 ${num(len)}`))}, 마지막 블록을 나온 뒤 ${num(s.leaving)}.`,
      );
    },
  },
  "transformer.layers": {
    title: "블록마다 다른 어텐션",
    text: (f) => sentences(
      "뒤쪽 블록은 앞쪽 블록들이 이미 풍부하게 만든 스트림을 읽으므로, 더 추상적인 패턴을 따라 어텐션할 수 있습니다.",
      f.stack.sharpest.every(Boolean) &&
        `블록마다 ${tok(f)}에서 가장 집중된 헤드와 그 헤드의 가장 큰 가중치(고르게 나누면 ${prob(f.attention.uniform)}): ${formatList(f.stack.sharpest.map((x) => `${x.layer}번 블록 ${x.head}번 헤드 → ${tokAt(f, x.key)} (${prob(x.weight)})`))}.`,
    ),
  },
  "transformer.exit": {
    title: "블록을 빠져나오며",
    text: (f) => sentences(
      `${f.dims.L - 1}번 블록을 지나면, 각 토큰의 벡터에는 그 위치와 그 앞의 모든 것에 대해 모델이 알아낸 내용이 담깁니다.`,
      `프롬프트 다음에 올 토큰을 예측하는 데 필요한 것은 마지막 행(${f.t}번 위치의 ${tok(f)})뿐입니다.`,
      "나머지 행에는 프롬프트의 더 짧은 앞부분마다 그 뒤에 무엇이 올지에 대한 모델의 예측이 담겨 있습니다.",
    ),
  },

  "softmax.final_norm": {
    title: "마지막 레이어 정규화",
    text: (f) => sentences(
      "예측하기 전에 마지막 레이어 정규화(ln_f)가 스트림의 크기를 한 번 더 고릅니다. pre-LN 구조인 GPT-2에서 스트림 자체가 정규화되는 것은, 모든 블록을 지나며 커진 뒤인 이때 한 번뿐입니다.",
      known(f.final.norm.mean, f.final.norm.std) &&
        `${tok(f)}: μ = ${num(f.final.norm.mean)}, σ = ${num(f.final.norm.std)}.`,
    ),
  },
  "softmax.logits": {
    title: "로짓: 어휘 항목마다 점수 하나",
    text: (f) => sentences(
      f.dims.tied
        ? `정규화된 벡터를 토큰 임베딩의 모든 행과 내적합니다. 맨 처음 썼던 바로 그 wte 표입니다. 표 하나를 두 번 쓰는 것을 가중치 공유(weight tying)라고 합니다. 매개변수 ${formatShape([f.dims.V, f.dims.C])} = ${formatCount(f.dims.V * f.dims.C)}개를 아끼고, 벡터가 어떤 토큰의 임베딩과 같은 쪽을 가리킬수록 그 토큰의 점수가 높아집니다.`
        : "정규화된 벡터에 어휘 항목마다 행이 하나씩 있는 언임베딩 행렬(lm_head)을 곱합니다.",
      `그러면 어휘 항목 ${f.dims.V}개마다 점수가 하나씩 나오는데, 이것을 로짓이라고 합니다. 전체로는 ${formatShape([f.dims.T, f.dims.V])} 행렬입니다.`,
      "로짓은 정규화되지 않은 로그 확률입니다. 다음 단계의 소프트맥스가 이를 확률로 바꾸며, 모든 로짓에 같은 수를 더해도 결과는 달라지지 않습니다.",
      f.final.logits &&
        `${tok(f)}의 행${f.dims.V > f.final.logits.length ? "에서 가장 높은 값들" : ""}: ${formatList(f.final.logits.map((x) => `${code(x.piece)} ${num(x.value)}`))}.`,
      "로짓이 높을수록 모델이 그 토큰을 다음 토큰으로 더 선호한다는 뜻입니다.",
    ),
  },
  "softmax.softmax": {
    title: "소프트맥스: 로짓을 확률로",
    text: (f) => {
      const fin = f.final;
      return sentences(
        "소프트맥스가 로짓을 확률로 바꿉니다. 각 로짓을 온도로 나누고, 지수함수 값이 넘치지 않도록 가장 큰 값을 뺀 다음, 지수함수를 취해 전체 합으로 나눕니다.",
        fin.greedy
          ? "온도를 0으로 두면 가장 가능성 높은 토큰을 그대로 고르므로, 여기 보이는 확률은 온도 1로 계산한 것입니다."
          : `지금 온도는 ${formatPlain(fin.temperature)}입니다.`,
        known(fin.maxLogit, fin.sumExp) && fin.probs &&
          `${tok(f)}의 경우 가장 큰 로짓은 ${num(fin.maxLogit)}이고, 지수함수 값 e^(로짓 − ${num(fin.maxLogit)}) ${f.dims.V}개를 더하면 ${num(fin.sumExp, 3)}입니다. 이 합은 확률이 아니라 각 지수함수 값을 나눌 분모입니다. 결과: ${formatList(fin.probs.map((x) => `${code(x.piece)} ${prob(x.value)}`))}.`,
      );
    },
  },
  "softmax.every_row": {
    title: "모든 행이 예측한다",
    text: (f) => sentences(
      "소프트맥스는 모든 행에 적용되므로 위치마다 그다음 토큰에 대한 추측이 나옵니다. 생성할 때는 마지막 행만 쓰입니다.",
      f.final.trainedFrom === null
        ? "학습할 때는 행마다 실제로 다음에 온 토큰이라는 정답이 있으므로, 순전파 한 번으로 시퀀스의 모든 위치에서 한꺼번에 배웁니다."
        : `이 모델은 학습할 때 답만 배웠습니다. 질문 안쪽 위치의 정답은 가려 두었으므로 0번부터 ${f.final.trainedFrom - 1}번 행까지는 학습된 적이 없고, 그 추측에는 큰 의미가 없습니다. 질문의 마지막 글자인 ${f.final.trainedFrom}번 행부터가 정렬된 답을 예측합니다.`,
      f.final.perPosition &&
        `이번 프롬프트에서: ${formatList(f.final.perPosition.map((x) => `${tokAt(f, x.position)} 다음 → ${code(x.piece)} (${prob(x.prob)})`), LISTED)}.`,
    ),
  },

  "output.distribution": {
    title: "다음 토큰 분포",
    text: (f) => {
      const top = f.output.top;
      return top && top.length
        ? sentences(
          `출력 패널에는 ${tok(f)} 다음에 올 후보들이 확률이 높은 순서로 나옵니다: ${formatList(top.map((x) => `${code(x.piece)} ${prob(x.prob)}`), LISTED)}.`,
          `1순위는 ${code(top[0].piece)}, 확률 ${prob(top[0].prob)}입니다.`,
          activeFilters(f.output) && `${activeFilters(f.output)} 설정이 켜져 있으므로, 이 값은 소프트맥스 결과를 걸러 내고 다시 나눈 확률입니다.`,
        )
        : `순전파가 끝나면 출력 패널에 ${tok(f)} 다음에 올 후보들이 확률이 높은 순서로 나타납니다.`;
    },
  },
  "output.temperature": {
    title: "온도",
    text: (f) => {
      const o = f.output;
      return sentences(
        "온도는 선택이 얼마나 과감할지를 정합니다. 소프트맥스 전에 로짓을 온도로 나누는데, 1보다 작으면 분포가 뾰족해지고 1보다 크면 평평해집니다. 온도 0은 언제나 가장 가능성 높은 토큰을 고른다는 뜻입니다.",
        `지금 온도는 ${formatPlain(o.temperature)}입니다.`,
        o.favourite &&
          `이 로짓에서 ${code(o.favourite.piece)}의 확률은 온도 ${o.favourite.cold.temperature}에서 ${prob(o.favourite.cold.prob)}, ${o.favourite.warm.temperature}에서 ${prob(o.favourite.warm.prob)}, ${o.favourite.hot.temperature}에서 ${prob(o.favourite.hot.prob)}입니다(top-k, top-p 적용 전).`,
      );
    },
  },
  "output.filters": {
    title: "top-k와 top-p",
    text: (f) => sentences(
      "뽑기 전에 가능성이 낮은 토큰을 걸러 내는 필터가 두 가지 있습니다. top-k는 가능성이 가장 높은 토큰 k개만 남기고, top-p는 확률이 높은 것부터 더해 합이 p 이상이 되는 가장 작은 묶음만 남깁니다.",
      "남은 확률은 합이 1이 되도록 다시 나눕니다.",
      `지금 설정: top-k ${offOr(f.output.topK)}, top-p ${offOr(f.output.topP)}.`,
    ),
  },
  "output.sample": {
    title: "샘플링",
    text: (f) => {
      const o = f.output;
      if (o.temperature === 0) {
        return sentences(
          "온도가 0이면 무작위로 뽑지 않고 가장 가능성 높은 토큰을 그대로 고릅니다.",
          o.greedy && `이번에 고른 토큰: ${code(o.greedy.piece)}.`,
        );
      }
      return sentences(
        "마지막으로 이 확률대로 토큰 하나를 무작위로 뽑습니다. 확률만큼의 넓이로 칸을 나눈 돌림판을 돌리는 것과 같습니다.",
        o.sampled && `이번에 뽑힌 토큰: ${code(o.sampled.piece)}.`,
        o.sampled && o.greedy &&
          (o.greedy.id === o.sampled.id ? "가장 가능성 높은 토큰과 같습니다." : `가장 가능성이 높았던 토큰: ${code(o.greedy.piece)}.`),
        known(o.seed) && `뽑기에 시드(${o.seed})를 고정했으므로 몇 번을 해도 같은 결과가 나옵니다.`,
      );
    },
  },
  "output.loop": {
    title: "덧붙이고 되풀이하기",
    text: (f) => {
      const o = f.output;
      return sentences(
        `고른 토큰을 프롬프트 끝에 붙이고, 이제 토큰 ${f.dims.T + 1}개로 순전파 전체를 다시 돌려 그다음 토큰을 예측합니다. '생성' 버튼을 누르면 이 과정이 토큰 하나씩 진행되는 모습을 볼 수 있습니다.`,
        o.room >= 0 && `이 모델은 최대 ${f.dims.nCtx}개 토큰을 읽으므로, 지금의 토큰 ${f.dims.T}개 뒤에 ${o.room + 1}개까지 더 만들 수 있습니다.`,
        o.sortTask && `정렬의 목표 답은 ${code(o.sortTask.goal)}입니다. 글자 ${o.sortTask.answerLength}개를 만들면 답이 완성됩니다.`,
      );
    },
  },
  "output.closing": {
    title: "전체 그림",
    text: () => sentences(
      "모델 전체를 한 번에 정리하면 이렇습니다. 임베딩이 토큰을 벡터로 바꾸고, 어텐션과 MLP로 이루어진 블록들이 잔차 스트림을 따라 벡터를 다듬고, 소프트맥스가 그 결과를 하나의 선택으로 바꿉니다.",
      "대규모 언어 모델도 같은 설계를 쓰며, 다만 훨씬 넓고 깊으며 방대한 텍스트로 학습되었을 뿐입니다. 모델이 아는 모든 것은 방금 지나온 블록들 같은 가중치에 들어 있고, 파인 튜닝은 이 가중치를 특정 작업이나 분야에 맞게 조금 더 조정하는 일입니다.",
    ),
  },
};
