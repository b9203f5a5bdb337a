// Builds the narration for passes given on stdin, for tests/test_narration_numbers.py, which checks every
// quoted number against the engine's own tensors. Input: a JSON list of {header, tensors, output, model,
// weights}, tensors and weights as [{name, shape, data}]. Output: per case, per language, the steps.
import { buildSteps } from "../../static/narration/narration.js";
import { LANGUAGES } from "../../static/ui/i18n.js";

const asTensors = (entries) => new Map(entries.map((e) => [e.name, {
  ...e, data: Float32Array.from(e.data), mask: e.mask ? Uint8Array.from(e.mask) : null,
}]));

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
const cases = JSON.parse(input).map((c) => Object.fromEntries(LANGUAGES.map((lang) => [lang,
  buildSteps({ header: c.header, tensors: asTensors(c.tensors), output: c.output, model: c.model, weights: asTensors(c.weights) }, lang)
    .map(({ id, text, focus, camera, cells, anim }) => ({ id, text, focus, camera, cells, anim }))])));
process.stdout.write(JSON.stringify(cases));
