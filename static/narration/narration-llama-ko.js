// 한국어 내레이션 가운데 Llama 계열 모델이 GPT-2와 다르게 하는 단계들: 위치 표가 없음, γ만 있는 RMSNorm,
// 회전 위치(rotary), 여러 쿼리 헤드가 나눠 쓰는 키/값 헤드, SiLU를 쓰는 게이트 MLP, 채팅 템플릿과 정지 토큰.
// 나머지 단계는 narration-ko.js의 문장을 그대로 씁니다. 토큰이나 숫자 바로 뒤에는 받침에 따라 모양이 바뀌는
// 조사를 붙이지 않습니다(narration-ko.js와 같은 규칙).

import {
  formatCount, formatList, formatNumber as num, formatPlain, formatProbability as prob, formatShape, tokenCode as code,
} from "../ui/format.js";
import {
  divideEquation, followedToken as tok, gateEquation, known, leadingValues, rotationEquation, scaleEquation, sentences,
} from "./narration-words.js";

const kvWord = (f) => (f.dims.KV === f.dims.H ? "쿼리 헤드마다 키/값 헤드가 하나씩 있습니다"
  : `키/값 헤드는 ${f.dims.KV}개뿐이고, 하나를 쿼리 헤드 ${f.dims.H / f.dims.KV}개가 함께 씁니다`);

export const STEP_TEXT = {
  "introduction.welcome": {
    title: "지금 보고 있는 것",
    text: (f) => sentences(
      `이 화면은 Llama 계열 모델인 ${f.dims.title}에서 토큰 ${f.dims.T}개에 대해 일어나는 순전파 한 번을 그대로 보여 줍니다.`,
      known(f.dims.nParams) && `이 모델의 매개변수는 ${formatCount(f.dims.nParams)}개입니다.`,
      "순전파란 가중치는 그대로 둔 채, 프롬프트의 토큰에서 출발해 예측 하나가 나오기까지 계산을 처음부터 끝까지 한 번 수행하는 것을 말합니다.",
      "장면 속 블록 하나하나가 모델이 실제로 계산한 텐서이고, 블록의 칸 하나가 그 텐서의 숫자 하나입니다.",
      "모델이 하는 일은 단 하나, 다음에 올 토큰을 맞히는 것입니다. 질문에 답하는 것도 이 일을 거듭한 결과입니다.",
      "구조는 GPT-2와 같고, 길을 따라가며 만날 차이는 네 가지입니다. LayerNorm 대신 RMSNorm을 쓰고, 위치를 어텐션 안에서 회전으로 넣고, 여러 쿼리 헤드가 키/값 헤드를 나눠 쓰고, MLP에 게이트가 있습니다.",
    ),
  },
  "introduction.journey": {
    title: "모델을 지나는 길",
    text: (f) => sentences(
      "순전파는 장면의 위에서 아래로 흘러갑니다.",
      `먼저 토큰 ${f.dims.T}개가 각각 숫자 ${f.dims.C}개짜리 벡터가 됩니다(임베딩).`,
      `이 벡터들은 트랜스포머 블록 ${f.dims.L}개를 차례로 지납니다. 블록마다 벡터의 크기를 맞추고(RMSNorm, 레이어 정규화 장), 각 토큰이 앞선 토큰들에게서 정보를 모으는데 이때 위치가 q와 k의 회전으로 들어가며(셀프 어텐션), 그 결과를 투영해 원래 흐름에 더한 뒤(투영), 토큰마다 따로 게이트가 달린 신경망을 거칩니다(MLP, 피드 포워드 네트워크 또는 FFN이라고도 부릅니다).`,
      "끝에서는 마지막 토큰의 벡터가 어휘의 모든 항목에 대한 점수로 바뀌고, 그 점수가 다시 확률로 바뀝니다(소프트맥스, 출력).",
    ),
  },
  "introduction.sizes": {
    title: "모델의 크기",
    text: (f) => sentences(
      `이 모델 안에서 토큰 하나는 숫자 C = ${f.dims.C}개로 된 벡터이며, 이 숫자 하나하나를 채널이라고 부릅니다.`,
      `블록마다 어텐션 헤드가 H = ${f.dims.H}개 있고 헤드 하나의 폭은 D = ${f.dims.D}개 채널입니다. 헤드는 앞선 토큰 가운데 어디에서 정보를 읽어 올지를 저마다 따로 정하는, 나란히 일하는 단위입니다(셀프 어텐션 장에서 자세히 봅니다). ${kvWord(f)}.`,
      `MLP는 벡터를 F = ${f.dims.F}개 채널로 넓힙니다.`,
      `어휘에는 토큰이 V = ${formatCount(f.dims.V)}개 있고, 모델은 한 번에 최대 ${formatCount(f.dims.nCtx)}개 위치까지 읽을 수 있습니다.`,
      `위치는 0부터 세므로 이번 순전파의 토큰은 0번부터 ${f.dims.T - 1}번 위치까지 놓입니다.`,
    ),
  },

  "embedding.lookup": {
    title: "토큰 임베딩 찾아보기",
    text: (f) => sentences(
      `토큰 임베딩 embed_tokens는 어휘 항목 ${formatCount(f.dims.V)}개마다 숫자 ${f.dims.C}개짜리 행이 하나씩 있는 표입니다(${formatShape([f.dims.V, f.dims.C])}). 화면에서는 embed_tokens · 토큰 임베딩 · C×V로 돌려 그렸으므로 행 하나가 열 하나입니다.`,
      `마지막 토큰 ${tok(f)}의 인덱스는 ${f.token.id}입니다. 그래서 표의 ${f.token.id}번 행(화면에서는 ${f.token.id}번 열)을 그대로 복사해 이 토큰의 벡터로 씁니다.`,
      f.embedding.embedFirst && `벡터의 앞부분: ${leadingValues(f.embedding.embedFirst)}`,
      "이 행들은 학습으로 정해진 값이어서, 비슷하게 쓰이는 토큰일수록 비슷한 행을 갖게 됩니다.",
    ),
  },
  "embedding.position": {
    title: "위치 벡터가 없음",
    text: (f) => sentences(
      "GPT-2는 여기서 토큰마다 학습된 위치 벡터를 더합니다. 이 모델에는 위치 표가 아예 없습니다. 임베딩이 그대로 0번 블록에 들어가므로, 잔차 스트림은 임베딩 자체에서 시작합니다. 잔차 스트림이란 토큰마다 벡터 하나씩으로 이루어진 행렬로, 이후의 모든 단계가 여기서 값을 읽고 자기 결과를 여기에 더합니다.",
      known(f.embedding.embed0) && `${tok(f)}의 채널 0 값은 임베딩에서 ${num(f.embedding.embed0)}이고, 스트림에서도 같습니다.`,
      "토큰이 어디에 놓였는지는 나중에 어텐션 안에서 들어옵니다. 쿼리와 키 벡터를 위치에 따라 커지는 각도만큼 회전시키는 방식입니다(셀프 어텐션 장).",
    ),
  },

  "layer_norm.why": {
    title: "왜 정규화하는가, 그리고 RMSNorm",
    text: (f) => {
      const s = f.stack;
      return sentences(
        `어텐션에 들어가기 전에 각 토큰의 벡터를 숫자 ${f.dims.C}개의 제곱평균제곱근이 1이 되도록 크기를 맞춥니다. 이 모델은 이 일에 RMSNorm(화면 이름표로는 RMS 정규화)을 씁니다. GPT-2의 레이어 정규화(계층 정규화, LayerNorm)를 더 단순하게 만든 것입니다.`,
        "LayerNorm은 평균을 빼고 표준편차로 나눈 뒤 γ를 곱하고 β를 더합니다. RMSNorm은 평균과 β를 건너뛰고, 제곱평균제곱근으로 나눈 다음 γ만 곱합니다. 토큰마다 통계량이 하나 줄어들지만 학습은 똑같이 잘 됩니다.",
        "GPT-2처럼 스트림 자체는 바뀌지 않습니다. 어텐션 층은 크기를 맞춘 사본을 받으므로, 스트림이 아무리 커져도 늘 같은 크기의 입력을 봅니다.",
        known(s.entering[0], s.leaving) && `실제로 스트림은 커집니다. ${tok(f)} 벡터의 길이는 0번 블록에 들어갈 때 ${num(s.entering[0])}이고, 마지막 블록을 나온 뒤에는 ${num(s.leaving)}입니다.`,
        "이렇게 하위 층마다 그 앞에서 사본을 정규화하는 방식을 pre-norm이라고 합니다. 원래의 트랜스포머는 잔차 덧셈 뒤에 정규화했습니다(post-LN).",
      );
    },
  },
  "layer_norm.rms": {
    title: "1단계: 제곱평균제곱근",
    text: (f) => {
      const n = f.llama.norm;
      return sentences(
        `토큰마다 숫자 ${f.dims.C}개를 제곱해 평균을 내고 제곱근을 취합니다: rms = √(x²의 평균 + ε). 여기 더하는 ε = ${num(f.dims.rmsEpsilon)}은 0으로 나누는 일을 막아 줄 뿐입니다.`,
        known(n.rms) && `${f.t}번 위치의 ${tok(f)}에서는 rms = ${num(n.rms)}입니다.`,
        known(n.inputMean) && `이 토큰의 평균(${num(n.inputMean)})은 빼지 않습니다. RMSNorm에는 평균 블록이 없습니다.`,
        `스트림 옆의 얇은 블록에 토큰 ${f.dims.T}개의 rms가 하나씩 담겨 있습니다.`,
      );
    },
  },
  "layer_norm.normalize": {
    title: "2단계: rms로 나누기",
    text: (f) => {
      const n = f.llama.norm;
      return sentences(
        "각 숫자 x를 그 토큰의 rms로 나눕니다. 그러면 행마다 제곱평균제곱근이 1이 됩니다.",
        known(n.input0, n.rms, n.normalized0) && `${tok(f)}의 채널 0: ${divideEquation(n.input0, n.rms, n.normalized0)}.`,
        known(n.normalizedRms) && `이제 이 행의 제곱평균제곱근은 ${num(n.normalizedRms)}입니다.`,
      );
    },
  },
  "layer_norm.scale": {
    title: "3단계: γ 곱하기 (β 없음)",
    text: (f) => {
      const n = f.llama.norm;
      const x = n.example;
      return sentences(
        "마지막으로 채널마다 학습된 가중치 γ를 곱합니다. 더할 편향 β는 없습니다.",
        n.gammaRange && `이 블록의 γ는 ${num(n.gammaRange[0])}부터 ${num(n.gammaRange[1])}까지 퍼져 있습니다.`,
        x && known(x.gamma) && `${tok(f)}에서 값이 가장 크게 바뀌는 곳은 채널 ${x.channel}입니다: ${scaleEquation(x.normalized, x.gamma, x.out)}.`,
        "어텐션 층이 읽는 것은 바로 이 출력입니다.",
      );
    },
  },

  "self_attention.qkv": {
    title: "쿼리, 키, 값",
    text: (f) => sentences(
      "정규화된 벡터에 가중치 행렬 세 개를 편향 없이 곱하면 토큰마다 쿼리(내가 찾는 것은 무엇인가), 키(내가 내놓을 수 있는 것은 무엇인가), 값(선택되면 건네줄 내용)이 나옵니다.",
      `쿼리는 ${f.dims.D}개 채널짜리 헤드 ${f.dims.H}개로 나뉘지만 키와 값은 ${f.dims.KV}개뿐입니다. ${kvWord(f)}. 화면에는 저마다 가중치 블록이 있고, 이름표는 W_q · 헤드 h · D×C, W_k 또는 W_v · KV 헤드 h · D×C(${formatShape([f.dims.D, f.dims.C])})입니다.`,
      f.attention.qFirst && `${f.attention.head}번 헤드에서 회전하기 전 ${tok(f)}의 쿼리 앞부분: ${leadingValues(f.attention.qFirst)}`,
    ),
  },
  "self_attention.rotary": {
    title: "회전 위치 임베딩",
    text: (f) => {
      const r = f.llama.rotary;
      return sentences(
        `위치는 여기서 들어옵니다. 헤드의 채널 ${f.dims.D}개는 ${r.pairs}개의 쌍(채널 j와 채널 j + ${r.pairs})을 이루고, 쌍마다 시계바늘처럼 θ = 위치 × ${formatPlain(f.dims.ropeTheta)}^(−2j/${f.dims.D})만큼 돌아갑니다. 쿼리와 키는 돌리고 값은 돌리지 않습니다.`,
        `${f.t}번 위치에서 가장 빨리 도는 0번 쌍은 ${num(r.fastest.angle)}라디안, 가장 느린 ${r.slowest.pair}번 쌍은 ${num(r.slowest.angle)}라디안만큼 돕니다.`,
        known(r.fastest.x, r.fastest.partner, r.fastest.rotated) &&
          `${f.attention.head}번 헤드에서 ${tok(f)}의 쿼리 채널 0은 q₀ × cos θ − q${r.pairs} × sin θ가 됩니다: ${rotationEquation(r.fastest)}.`,
        "이것이 통하는 이유는 이렇습니다. 돌린 쿼리와 돌린 키를 내적하면 두 각도의 차이만 남으므로, 점수는 두 토큰이 어디에 있는지가 아니라 얼마나 떨어져 있는지에 따라 정해집니다. 위치가 스트림에 더하는 벡터가 아니라 q · k 안에 들어가 있는 셈입니다.",
      );
    },
  },
  "self_attention.scores": {
    title: "내적, 그리고 √D로 나누기",
    text: (f) => sentences(
      `어디를 볼지 정하기 위해 ${tok(f)}의 돌린 쿼리를 모든 토큰의 돌린 키와 내적(점곱)으로 비교합니다. 채널끼리 곱한 뒤 모두 더하는 것입니다. ${f.attention.head}번 쿼리 헤드는 ${f.llama.sharing.kv}번 KV 헤드의 키를 읽습니다.`,
      `그 합을 √D = √${f.dims.D} = ${formatPlain(Math.sqrt(f.dims.D))}로 나눕니다. 내적은 곱 D개를 더한 값이라 전형적인 크기가 √D에 비례해 커지는데, 나누지 않으면 뒤따르는 소프트맥스가 가중치를 거의 전부 키 하나에 몰아주고, 기울기(학습할 때 가중치를 어느 쪽으로 고칠지 알려 주는 신호)가 거의 사라져 학습이 멈추기 때문입니다.`,
      `쿼리 ${f.dims.T}개와 키 ${f.dims.T}개는 행렬 곱 한 번으로 한꺼번에, 병렬로 만납니다.`,
      f.attention.scores &&
        `${f.attention.head}번 헤드 점수의 ${f.t}번 행: ${formatList(f.attention.scores.map((x) => `${x.key}번 ${code(f.tokens[x.key].piece)} ${num(x.value)}`), 8)}.`,
    ),
  },
  "self_attention.heads": {
    title: "키와 값을 나눠 쓰는 헤드들",
    text: (f) => {
      const s = f.llama.sharing;
      return sentences(
        `쿼리 헤드 ${f.dims.H}개는 동시에, 저마다의 패턴으로 계산합니다. 이렇게 여러 헤드를 나란히 쓰는 것을 멀티헤드 어텐션(multi-head attention)이라고 합니다.`,
        f.dims.KV < f.dims.H
          ? `다만 키와 값은 나눠 씁니다. 쿼리 헤드 ${s.sharers.join(", ")}번이 모두 ${s.kv}번 KV 헤드를 읽습니다(그룹 쿼리 어텐션).`
          : "이 모델에서는 쿼리 헤드마다 키와 값이 따로 있습니다.",
        f.dims.KV < f.dims.H &&
          `이유는 메모리입니다. 모델이 글을 쓰는 동안 앞선 모든 토큰의 키와 값을 다시 계산하지 않으려고 보관해 두는데, 나눠 쓰면 그 양이 블록 ${f.dims.L}개를 통틀어 토큰당 숫자 ${formatCount(s.unsharedPerToken)}개에서 ${formatCount(s.cachedPerToken)}개로, ${formatPlain(f.dims.H / f.dims.KV)}분의 1로 줄어듭니다. 품질은 거의 떨어지지 않습니다.`,
        f.attention.heads &&
          `0번 블록에서 ${tok(f)}의 어텐션이 가장 많이 향하는 곳: ${formatList(f.attention.heads.map((x) => `${x.head}번 헤드 → ${x.key}번 ${code(f.tokens[x.key].piece)} (${prob(x.weight)})`))}.`,
      );
    },
  },

  "projection.linear": {
    title: "출력 투영",
    text: (f) => sentences(
      `이어 붙인 벡터에 출력 행렬(화면의 W_o · C×C, 체크포인트의 o_proj, ${formatShape([f.dims.H * f.dims.D, f.dims.C])})을 편향 없이 곱합니다.`,
      "여러 헤드가 따로 찾아낸 것을 섞어서 스트림의 채널로 다시 표현하는 과정입니다.",
      known(f.projection.attnOut0) && `${tok(f)}의 어텐션 출력, 채널 0: ${num(f.projection.attnOut0)}.`,
    ),
  },

  "mlp.norm": {
    title: "다시 정규화",
    text: (f) => sentences(
      "블록의 후반부인 MLP(피드 포워드 네트워크, FFN)도 전반부처럼 자기만의 RMSNorm으로 시작합니다. γ도 따로 있습니다.",
      known(f.llama.mlp.norm.rms) && `정규화하기 전 ${tok(f)}의 갱신된 벡터: rms = ${num(f.llama.mlp.norm.rms)}.`,
    ),
  },
  "mlp.gate_up": {
    title: "게이트와 업",
    text: (f) => {
      const n = f.llama.mlp.strongest;
      return sentences(
        `넓히는 행렬이 하나가 아니라 둘입니다. 둘 다 ${formatShape([f.dims.C, f.dims.F])}이고 편향이 없으며, 화면에서는 W_gate · F×C와 W_up · F×C입니다. 토큰마다 숫자 ${f.dims.C}개가 ${f.dims.F}개짜리 벡터 두 개, 게이트와 업이 됩니다.`,
        "업 벡터가 내용을 싣고, 게이트는 뉴런마다 그 내용을 얼마나 통과시킬지 정합니다.",
        n && `${tok(f)}의 ${n.neuron}번 뉴런: 게이트 ${num(n.gate)}, 업 ${num(n.up)}.`,
      );
    },
  },
  "mlp.silu": {
    title: "SiLU(게이트) × 업",
    text: (f) => {
      const m = f.llama.mlp;
      return sentences(
        "게이트는 SiLU, 곧 x / (1 + e^(−x))를 거칩니다. 큰 양수는 거의 그대로 통과하고, 큰 음수는 0으로 눌리며, 그 사이에서는 곡선이 부드럽게 휘는데 −1 근처에서는 0보다 조금 아래로 내려갑니다. 그런 다음 업 벡터와 숫자끼리 곱합니다.",
        "이 휨과 곱셈이 비선형성입니다. 이것이 없으면 행렬 곱들이 하나의 선형 변환으로 합쳐져 버립니다.",
        m.strongest && `${tok(f)}의 ${m.strongest.neuron}번 뉴런: SiLU(${num(m.strongest.gate)}) = ${num(m.strongest.silu)}이고, ${gateEquation(m.strongest)}.`,
        m.negative && `게이트가 음수이면 업 값이 조금만, 그것도 부호가 뒤집혀 통과합니다. ${m.negative.neuron}번 뉴런은 SiLU(${num(m.negative.gate)}) = ${num(m.negative.silu)}이므로 ${gateEquation(m.negative)}.`,
      );
    },
  },
  "mlp.contract": {
    title: "다시 줄이기",
    text: (f) => sentences(
      `세 번째 행렬(화면의 W_down · C×F, 체크포인트의 down_proj, ${formatShape([f.dims.F, f.dims.C])})이 편향 없이 ${f.dims.F}개 채널을 다시 ${f.dims.C}개로 줄여, 결과가 잔차 스트림에 맞는 모양이 되게 합니다.`,
      known(f.llama.mlp.out0) && `${tok(f)}의 채널 0: ${num(f.llama.mlp.out0)}.`,
    ),
  },

  "transformer.stack": {
    title: "블록 쌓기",
    text: (f) => sentences(
      "지금까지 따라온 것이 트랜스포머 블록 하나입니다: RMSNorm, 회전 위치를 쓰는 어텐션, 투영과 잔차 연결, 다시 RMSNorm, 게이트 MLP와 잔차 연결.",
      `이 모델은 이런 블록 ${f.dims.L}개를 쌓았고, 블록마다 가중치가 따로 있습니다.`,
      f.dims.L > 1
        ? `한 블록의 출력이 그대로 다음 블록의 입력이 됩니다. 0번 블록의 결과가 1번 블록에 들어가고, 이렇게 ${f.dims.L - 1}번 블록까지 이어집니다.`
        : "이 블록의 출력은 곧바로 마지막 RMSNorm으로 넘어갑니다.",
    ),
  },
  "transformer.stream": {
    title: "잔차 스트림",
    text: (f) => {
      const s = f.stack;
      return sentences(
        "스트림은 모든 블록을 곧게 관통해 흘러내립니다. 블록마다 RMSNorm을 거쳐 스트림을 읽고, 찾아낸 것을 덧셈으로 되돌려 쓰므로 기여가 차곡차곡 쌓입니다.",
        known(...s.entering, s.leaving) &&
          `${tok(f)} 벡터의 길이를 보면 알 수 있습니다: ${formatList(s.entering.map((len, i) => `${i}번 블록에 들어갈 때 ${num(len)}`), 8)}, 마지막 블록을 나온 뒤 ${num(s.leaving)}.`,
      );
    },
  },

  "softmax.final_norm": {
    title: "마지막 RMSNorm",
    text: (f) => sentences(
      "예측하기 전에 마지막 RMSNorm이 스트림의 크기를 한 번 더 고릅니다. 스트림 자체가 정규화되는 것은 모든 블록을 지나며 커진 뒤인 이때 한 번뿐입니다.",
      known(f.llama.finalNorm.rms) && `${tok(f)}: rms = ${num(f.llama.finalNorm.rms)}.`,
      f.llama.finalNorm.gammaRange && `이 층의 γ는 ${num(f.llama.finalNorm.gammaRange[0])}부터 ${num(f.llama.finalNorm.gammaRange[1])}까지 퍼져 있습니다.`,
    ),
  },
  "softmax.logits": {
    title: "로짓: 어휘 항목마다 점수 하나",
    text: (f) => sentences(
      f.dims.tied
        ? `정규화된 벡터를 embed_tokens의 모든 행과 내적합니다. 맨 처음 썼던 바로 그 표입니다. 표 하나를 두 번 쓰는 것을 가중치 공유(weight tying)라고 합니다. 매개변수 ${formatShape([f.dims.V, f.dims.C])} = ${formatCount(f.dims.V * f.dims.C)}개를 아끼고, 벡터가 어떤 토큰의 임베딩과 같은 쪽을 가리킬수록 그 토큰의 점수가 높아집니다.`
        : "정규화된 벡터에 어휘 항목마다 행이 하나씩 있는 언임베딩 행렬(lm_head)을 곱합니다.",
      `그러면 어휘 항목 ${formatCount(f.dims.V)}개마다 점수가 하나씩 나오는데, 이것을 로짓이라고 합니다.`,
      "로짓은 정규화되지 않은 로그 확률입니다. 소프트맥스가 이를 확률로 바꾸며, 모든 로짓에 같은 수를 더해도 결과는 달라지지 않습니다.",
      f.final.logits && `${tok(f)}의 행에서 가장 높은 값들: ${formatList(f.final.logits.map((x) => `${code(x.piece)} ${num(x.value)}`))}.`,
    ),
  },

  "output.chat": {
    title: "채팅 템플릿과 정지 토큰",
    text: (f) => {
      const c = f.llama.chat;
      return sentences(
        "채팅 모델은 질문을 맨몸으로 읽지 않습니다. 채팅 템플릿이 누가 말하는지를 표시하는 특수 토큰으로 질문을 감싸고, 끝에 어시스턴트의 차례를 열어 둡니다. 그래서 가장 그럴듯한 다음 토큰이 곧 답의 시작이 됩니다.",
        c.templateCount
          ? `이번 순전파에서는 토큰 ${f.dims.T}개 가운데 ${c.templateCount}개가 템플릿에서 왔고(토큰 줄에 테두리로 표시)` +
            (c.opening ? `, 첫 토큰은 ${code(c.opening)}입니다. ` : ". ") + `입력한 글에서 온 토큰은 ${c.userCount}개입니다.`
          : "이번 순전파는 템플릿 없이 입력한 글 그대로 보냈으므로, 모델은 그 글을 이어 쓸 뿐입니다.",
        "모델은 자기 차례를 특수한 정지 토큰으로 끝맺도록 학습되었습니다" + (c.closing ? `(템플릿에서 차례마다 닫는 데 쓰는 ${code(c.closing)})` : "") +
          ". 그 토큰을 쓰면 생성이 멈춥니다.",
      );
    },
  },
};
