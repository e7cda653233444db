"""The ``gesturegan`` command: one subcommand per job, each with ``--help``.

Handlers import their room lazily, so ``gesturegan --help`` is instant and the runtime
install (no torch) can run every command that does not train or export.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gesturegan import __version__
from gesturegan.server.core.commands import DEFAULT_OSC_PORT, DEFAULT_REPLY_PORT

DOCS_URL = "https://github.com/gesturegan/gesturegan/tree/main/docs"  # pyproject's Documentation
EPILOG = f"Run `gesturegan COMMAND --help` for the options and an example of one command. Docs: {DOCS_URL}"


class CommandError(Exception):
    """A user-facing failure: printed as ``gesturegan CMD: message`` with exit status 2."""


# -- prepare -------------------------------------------------------------------------------
def _add_prepare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare",
        help="turn folders of sounds into a training set",
        description=(
            "Cut, resample, normalise and label folders of audio into a dataset folder "
            "(memory-mappable arrays, manifest.json, stats.json, report.md with spectrograms). "
            "Labels come from category sub-folders (SRC/trigger/*.wav), a CSV, or the classifier."
        ),
        epilog="Example: gesturegan prepare ~/sounds --out data/mine",
    )
    p.add_argument(
        "src",
        metavar="SRC",
        nargs="+",
        type=Path,
        help="folders (or files) of audio: wav, flac, ogg, aiff, mp3",
    )
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="dataset folder to create")
    p.add_argument(
        "--labels",
        type=Path,
        metavar="CSV",
        help="CSV with header file,category (paths relative to SRC); without it, a labels.csv "
        "inside a SRC folder labels that folder's files",
    )
    p.add_argument(
        "--auto-label", action="store_true", help="label files that have no label with the classifier"
    )
    p.add_argument(
        "--categories",
        metavar="A,B,...",
        help="comma-separated category order (default: the four gesture categories)",
    )
    p.add_argument(
        "--sample-rate", metavar="HZ", type=int, default=44100, help="target rate in Hz (default 44100)"
    )
    p.add_argument(
        "--length", metavar="N", type=int, default=65536, help="samples per example (default 65536, 1.49 s)"
    )
    p.add_argument(
        "--channels",
        metavar="N",
        type=int,
        default=1,
        choices=(1, 2),
        help="1 = mono (default), 2 = keep stereo",
    )
    p.add_argument(
        "--windows",
        choices=("auto", "onset", "all"),
        default="auto",
        help="onset: one onset-aligned window per file; all: several windows from long sounds; "
        "auto (default): onset for trigger categories, several for continuous ones",
    )
    p.add_argument(
        "--max-windows",
        metavar="N",
        type=int,
        default=8,
        help="windows from one long sound at most (default 8)",
    )
    p.add_argument(
        "--val-fraction",
        metavar="F",
        type=float,
        default=0.1,
        help="share of source files held out (default 0.1)",
    )
    p.add_argument(
        "--seed", metavar="N", type=int, default=0, help="seed of the train/validation split (default 0)"
    )
    p.add_argument(
        "--target-rms-db",
        metavar="DB",
        type=float,
        default=-20.0,
        help="loudness examples are brought to (default -20)",
    )
    p.add_argument("--workers", metavar="N", type=int, default=None, help="processes (default: every core)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset at --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_prepare)


def _run_prepare(args: argparse.Namespace) -> int:
    from gesturegan.training.prepare import PrepareConfig, PrepareError, prepare

    cfg = PrepareConfig(
        sample_rate=args.sample_rate,
        n_samples=args.length,
        channels=args.channels,
        windows=args.windows,
        max_windows=args.max_windows,
        val_fraction=args.val_fraction,
        seed=args.seed,
        target_rms_db=args.target_rms_db,
    )
    cats = [c.strip() for c in args.categories.split(",") if c.strip()] if args.categories else None
    try:
        res = prepare(
            args.src,
            args.out,
            cfg,
            labels_csv=args.labels,
            auto_label=args.auto_label,
            categories=cats,
            overwrite=args.overwrite,
            workers=args.workers,
            progress=not args.quiet,
        )
    except PrepareError as exc:
        for key, reason in exc.reasons:  # a failed run says why each file was refused, --quiet or not
            print(f"skipped {key}: {reason}", file=sys.stderr)
        raise CommandError(str(exc)) from exc
    if not args.quiet:
        for key, reason in res.skipped:
            print(f"skipped {key}: {reason}", file=sys.stderr)
    for note in res.notes:
        print(f"warning: {note}", file=sys.stderr)
    print(
        f"{res.n_examples} examples in {res.out} (fingerprint {res.fingerprint}); {len(res.skipped)} files skipped"
        + (" (listed in report.md)" if args.quiet and res.skipped else "")
    )
    words = {
        "folder": "from sub-folders",
        "csv": "from --labels",
        "own-csv": "from the labels.csv in their SRC",
        "auto": "by the classifier",
    }
    print(
        "labels: "
        + ", ".join(f"{n} files {words[k]}" for k, n in sorted(res.label_from.items()))
        + f" (all in {res.out / 'labels.csv'}: correct a row, pass it back with --labels)"
    )
    if res.least_confident:
        shown = ", ".join(
            f"{r.source.relative} {r.category} {r.confidence:.2f}" for r in res.least_confident[:3]
        )
        print(f"  least confident: {shown}")
    width = max(len(c) for c in res.counts)
    for c, k in res.counts.items():
        print(
            f"  {c:<{width}}  {k['files']:4d} files  {k['examples']:5d} examples  ({k['train']} train, {k['val']} val)"
        )
    print(f"report: {res.out / 'report.md'}")
    return 0


# -- classify ------------------------------------------------------------------------------
def _add_classify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "classify",
        help="give each sound file a gesture category",
        description=(
            "Classify audio files into the four gesture categories from their energy envelope and "
            "spectrum, with the classifier shipped in the package (or --classifier FILE). Writes a "
            "file,category,confidence CSV and can sort the files into category folders."
        ),
        epilog="Example: gesturegan classify ~/sounds --out labels.csv --copy ~/sorted",
    )
    p.add_argument("src", metavar="SRC", nargs="+", type=Path, help="folders (or files) of audio")
    p.add_argument("--out", type=Path, metavar="CSV", help="write the CSV here (default: print it)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--copy", type=Path, metavar="DIR", help="copy files into DIR/<category>/")
    how.add_argument(
        "--move", type=Path, metavar="DIR", help="move files into DIR/<category>/ (sources removed)"
    )
    p.add_argument(
        "--classifier",
        metavar="FILE",
        type=Path,
        help="a classifier JSON from gesturegan.training.fit_classifier",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_classify)


def _run_classify(args: argparse.Namespace) -> int:
    from collections import Counter

    from gesturegan.files import write_text_atomic
    from gesturegan.training.classifier import GestureClassifier
    from gesturegan.training.classify import classify_files, sort_into, to_csv

    try:
        clf = GestureClassifier.load(args.classifier) if args.classifier else None
        results = classify_files(args.src, clf, progress=not args.quiet and args.out is not None)
    except (FileNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    if not results:
        raise CommandError("no audio files found (wav, flac, ogg, aiff, mp3)")
    for r in results:
        if r.category is None:
            print(f"skipped {r.path}: {r.reason}", file=sys.stderr)
    text = to_csv(results)
    if args.out:
        write_text_atomic(args.out, text)
    else:
        sys.stdout.write(text)
    counts = Counter(r.category for r in results if r.category)
    summary = ", ".join(f"{c} {n}" for c, n in sorted(counts.items()))
    print(f"classified {sum(counts.values())} of {len(results)} files: {summary}", file=sys.stderr)
    dest = args.copy or args.move
    if dest:
        done, problems = sort_into(results, dest, move=args.move is not None)
        for msg in problems:
            print(f"not sorted: {msg}", file=sys.stderr)
        print(f"{'moved' if args.move else 'copied'} {done} files into {dest}", file=sys.stderr)
    return 0


# -- train ---------------------------------------------------------------------------------
def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a category-conditioned generator (twostage, gan, vae, specgan, wavegan)",
        description=(
            "Train a generator on a dataset made by `gesturegan prepare`. The run folder gets "
            "config.toml, stats.json, checkpoints/ (last K and best.pt), previews/ (spectrogram "
            "sheets, WAVs, progress.gif), tensorboard/ and log.jsonl. Ctrl-C or SIGTERM writes a "
            "checkpoint before stopping; --resume continues exactly where it stopped. Several GPUs: "
            "torchrun --nproc_per_node N -m gesturegan train ..."
        ),
        epilog=(
            "Examples: gesturegan train data/mine --out runs/mine\n"
            "          gesturegan train data/mine --out runs/mine --resume --max-steps 40000\n"
            "          gesturegan train data/mine --model gan --config cpu --out runs/mine-gan\n"
            "          gesturegan train data/mine --config gan-hardened-cpu --out runs/mine-gan\n"
            "          gesturegan train data/mine --init-from runs/mine --config more-mix.toml --out runs/mine-mix\n"
            "Watch it: tensorboard --logdir runs/mine/tensorboard"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", metavar="DATA", type=Path, help="dataset folder made by `gesturegan prepare`")
    p.add_argument(
        "--model",
        choices=("twostage", "gan", "vae", "specgan", "wavegan"),
        help="twostage (default): autoencoder + per-category prior, the bundled model's family, with an "
        "encoder for --like; gan; vae: conditional VAE with an encoder; specgan, wavegan: baselines. "
        "--resume takes the run's own; a --config that names a family takes that one",
    )
    p.add_argument("--out", required=True, type=Path, metavar="RUN", help="run folder (created)")
    p.add_argument(
        "--config",
        metavar="TOML",
        help="TOML overriding the family's defaults, or a shipped name: tiny (seconds on a CPU), cpu, "
        "twostage-cpu (default: the family's defaults on a GPU; on a CPU, FAMILY-cpu or cpu)",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        metavar="N",
        help="stop after N generator updates (default: the config's, 20000)",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in RUN from its last checkpoint")
    p.add_argument(
        "--init-from",
        type=Path,
        metavar="CKPT",
        help="start RUN from this checkpoint (or a run folder's latest): weights, optimisers and step "
        "carry over, --config changes its keys (e.g. turn on train.mix_weight at step 10000, or add "
        "weights such as model.harmonics, which start fresh), and DATA may be your own sounds "
        "prepared the same way",
    )
    p.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="default auto: CUDA if torch sees a GPU",
    )
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_train)


def _checkpoint_family(source: Path) -> str:
    """The family of a checkpoint file or of a run folder, for ``--init-from`` without ``--model``."""
    from gesturegan.training.loop import run_family
    from gesturegan.training.state import read_checkpoint

    if source.is_dir():
        return run_family(source)
    if not source.exists():
        raise CommandError(f"--init-from: {source} does not exist")
    return str(read_checkpoint(source)["family"])


def _run_train(args: argparse.Namespace) -> int:
    try:
        import torch
    except ImportError as e:
        raise CommandError(
            'training needs the train extra: pip install torch==2.13.0 && pip install -e ".[train]"'
        ) from e
    from gesturegan.training.config import ConfigError, config_family
    from gesturegan.training.data import DatasetError
    from gesturegan.training.loop import TrainingError, run_family, train
    from gesturegan.training.state import CheckpointError

    if args.resume and args.init_from is not None:
        raise CommandError("--init-from starts a new run and --resume continues one: pass one of them")
    try:
        if args.model is None and args.resume:
            args.model = run_family(args.out)
        elif args.model is None and args.init_from is not None:
            args.model = _checkpoint_family(args.init_from)
        elif args.model is None:  # a config that names its family needs no --model
            args.model = (config_family(args.config) if args.config else None) or "twostage"
    except (ConfigError, TrainingError, CheckpointError) as e:
        raise CommandError(str(e)) from e
    if args.threads is not None:
        if args.threads < 1:
            raise CommandError(f"--threads must be at least 1, not {args.threads}")
        torch.set_num_threads(args.threads)
    try:
        result = train(
            args.data,
            args.model,
            args.out,
            config=args.config,
            max_steps=args.max_steps,
            resume=args.resume,
            device=args.device,
            progress=not args.quiet,
            init_from=args.init_from,
            log=lambda msg: print(msg, file=sys.stderr),
        )
    except (ConfigError, DatasetError, TrainingError, CheckpointError) as e:
        raise CommandError(str(e)) from e
    how = "stopped early" if result.stopped_early else "finished"
    print(
        f"{how} at step {result.step} ({result.steps_per_s:.2f} steps/s); best score {result.best_score:.3f}; "
        f"run in {result.run}",
        file=sys.stderr,
    )
    return 0


# -- evaluate ------------------------------------------------------------------------------
def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="quality metrics and a report for a run or an ONNX model",
        description=(
            "Generate gestures per category and measure them with the packaged gesture classifier "
            "(trained on real sounds only): conditional accuracy, Fréchet distance to the real data "
            "(beside the distance between two halves of the real data), diversity, loudness, silence "
            "and clipping. Writes report.md with spectrogram sheets and a morph strip."
        ),
        epilog="Example: gesturegan evaluate runs/mine --data data/mine --out runs/mine/eval",
    )
    p.add_argument(
        "model", metavar="RUN|MODEL.onnx", type=Path, help="run folder, checkpoint or exported model"
    )
    p.add_argument("--data", required=True, type=Path, metavar="DIR", help="the dataset to compare with")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the metrics as JSON here")
    p.add_argument("--out", type=Path, metavar="DIR", help="report folder (default: RUN/eval or MODEL.eval)")
    p.add_argument("--count", type=int, default=64, metavar="N", help="gestures per category (default 64)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the latents drawn (default 0)")
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from gesturegan.export.evaluate import EvaluateError, run_evaluate, summary_text
    from gesturegan.files import write_json_atomic
    from gesturegan.training.data import DatasetError

    if args.count < 4:
        raise CommandError(f"--count must be at least 4, not {args.count}")
    out = args.out
    if out is None:
        out = args.model / "eval" if args.model.is_dir() else args.model.with_suffix(".eval")
    try:
        result = run_evaluate(args.model, args.data, args.count, out, args.seed)
    except ImportError as e:
        raise CommandError(f'evaluate needs the train extra: pip install -e ".[train]" ({e})') from e
    except (EvaluateError, DatasetError) as e:
        raise CommandError(str(e)) from e
    if args.json:
        write_json_atomic(args.json, result)
    print(summary_text(result))
    print(f"report: {out / 'report.md'}", file=sys.stderr)
    return 0


# -- render --------------------------------------------------------------------------------
def _add_render(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render",
        help="write gestures of a category (or a mix) as WAV files",
        description=(
            "Generate gestures with an exported model and write them as WAV files (24-bit, the "
            "model's rate). Gesture i uses latent seed SEED+i, the same seed `/trigger ... seed` plays."
        ),
        epilog="Example: gesturegan render models/mine.onnx --category trigger --count 8 --out renders/",
    )
    _add_model(p)
    p.add_argument("--category", metavar="C", help="category name or index")
    p.add_argument(
        "--weights",
        metavar="W,W,...",
        help="comma-separated category weights instead of --category (a morph mix)",
    )
    p.add_argument("--count", type=int, default=8, metavar="N", help="how many (default 8)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the WAVs")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="first latent seed (default 0)")
    p.add_argument(
        "--real-level", action="store_true", help="restore the category's level in the training library"
    )
    p.add_argument(
        "--like",
        metavar="FILE",
        type=Path,
        help="write new takes of this sound instead (needs MODEL.encoder.onnx beside the model; "
        "the category is --category or, if not given, the one whose prior holds the sound best)",
    )
    p.add_argument(
        "--amount",
        type=float,
        default=0.5,
        metavar="A",
        help="with --like: how far takes wander from the sound, 0 (itself) to 1 (as varied as the "
        "model's category) and beyond (default 0.5)",
    )
    _add_provider(p)
    p.set_defaults(func=_run_render)


def _run_render(args: argparse.Namespace) -> int:
    from gesturegan.server.inference.model import ModelError, default_model_path, load_model
    from gesturegan.server.inference.render import RenderError, render

    weights = None
    if args.weights:
        try:
            weights = [float(x) for x in args.weights.split(",")]
        except ValueError as e:
            raise CommandError(f"--weights must be numbers separated by commas, not {args.weights!r}") from e
    try:
        model = load_model(args.model or default_model_path(), provider=args.provider, batch_sizes=())
        if args.like is not None:
            paths = _render_like(args, model)
        else:
            paths = render(model, args.out, args.count, args.seed, args.category, weights, args.real_level)
    except (ModelError, RenderError) as e:
        raise CommandError(str(e)) from e
    print(
        f"wrote {len(paths)} gesture{'' if len(paths) == 1 else 's'} to {args.out} ({model.info.duration_s:.2f} s at {model.info.sample_rate} Hz)"
    )
    return 0


def _render_like(args: argparse.Namespace, model) -> list[Path]:
    """``render --like``: the file prepared as the training data was, placed by the encoder, takes written."""
    from gesturegan.server.inference.like import LikeError, load_like, place
    from gesturegan.server.inference.model import encoder_beside, load_encoder
    from gesturegan.server.inference.render import RenderError, category_weights, render_like

    encoder_file = encoder_beside(model.path)
    if not encoder_file.exists():
        raise RenderError(
            f"{model.path.name} has no encoder ({encoder_file.name} beside it); --like needs a model "
            "exported from a twostage or vae run"
        )
    if not args.like.is_file():
        raise RenderError(f"--like {args.like}: no such file")
    if args.weights:
        raise RenderError("--like takes --category (or none: the model decides), not --weights")
    category = None
    if args.category is not None:
        category = int(category_weights(model, args.category, None)[0].argmax())
    try:
        clip = load_like(args.like, model.info)
        placed = place(
            load_encoder(encoder_file, provider=args.provider), clip, model.info.n_categories, category
        )
    except LikeError as e:
        raise RenderError(f"--like {e}") from e
    if category is None:
        print(f"{args.like.name}: the model hears it as {model.info.categories[placed.category]}")
    return render_like(model, placed, args.out, args.count, args.seed, args.amount, args.like.stem)


def _midi_map_defaults() -> str:
    from dataclasses import fields

    from gesturegan.server.control.midi import MidiMap

    return ", ".join(f"{f.name} = {f.default}" for f in fields(MidiMap) if f.default is not None)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _add_model(p: argparse.ArgumentParser) -> None:
    """The optional MODEL.onnx of render, serve and inspect, declared once."""
    p.add_argument(
        "model",
        metavar="MODEL.onnx",
        type=Path,
        nargs="?",
        help="an exported model (default: the bundled one, gesturegan/server/models/default.onnx)",
    )


def _add_provider(p: argparse.ArgumentParser, default: str = "auto", why: str = "") -> None:
    """``--provider``, declared once for every command that runs a model."""
    p.add_argument(
        "--provider",
        default=default,
        choices=("auto", "cuda", "coreml", "cpu"),
        help="onnxruntime execution provider: auto takes CUDA or CoreML when present, else the CPU "
        f"(default {default}{'; ' + why if why else ''})",
    )


# -- serve ---------------------------------------------------------------------------------
def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="the live engine: OSC and MIDI in, audio out",
        description=(
            "Play a model live. OSC on --osc-port (see `gesturegan osc-spec`) and MIDI (a virtual "
            "port, or --midi NAME), replies to --reply-host:--reply-port (Max's udpreceive, Pd's "
            "netreceive); audio through JACK (a client of its own) or PortAudio (CoreAudio, "
            "WASAPI/ASIO, ALSA), its callback alone in a mixer process. Triggers are served from "
            "pools of pre-generated gestures."
        ),
        epilog="Example: gesturegan serve models/mine.onnx --audio jack --osc-port 9000 --reply-port 9001",
    )
    _add_model(p)
    p.add_argument(
        "--host", metavar="ADDRESS", default="127.0.0.1", help="address to listen on (default loopback only)"
    )
    p.add_argument(
        "--osc-port",
        type=int,
        default=DEFAULT_OSC_PORT,
        metavar="PORT",
        help=f"UDP port OSC arrives on (default {DEFAULT_OSC_PORT})",
    )
    p.add_argument(
        "--reply-host", metavar="ADDRESS", default="127.0.0.1", help="where replies go (default 127.0.0.1)"
    )
    p.add_argument(
        "--reply-port",
        type=int,
        default=DEFAULT_REPLY_PORT,
        metavar="PORT",
        help=f"UDP port replies go to, Max's udpreceive or Pd's netreceive (default {DEFAULT_REPLY_PORT})",
    )
    p.add_argument("--allow", metavar="IP,IP", help="only accept OSC from these addresses")
    p.add_argument(
        "--audio",
        metavar="API",
        default="default",
        help="host API: default, jack, coreaudio, asio, wasapi, alsa",
    )
    p.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "sounddevice", "jack", "pyo"),
        help="audio engine: jack (a JACK client of its own: follows the server's rate and block, times "
        "its callbacks, survives the server going away and coming back); sounddevice (PortAudio: "
        "CoreAudio, WASAPI, ASIO, ALSA, or JACK through PortAudio); pyo (its JACK or PortAudio "
        "backend). Default auto: jack with --audio jack, sounddevice otherwise",
    )
    p.add_argument(
        "--mixer",
        default="auto",
        choices=("auto", "process", "thread"),
        help="where the audio callback runs. process: alone in a process of its own, so OSC, MIDI and "
        "generation never hold it up (they share nothing but a pipe and shared memory with it; jack "
        "and sounddevice backends, Linux and macOS); thread: in this process, sharing Python's "
        "interpreter lock with them. Default auto: process where it can, thread otherwise",
    )
    p.add_argument("--device", metavar="NAME", help="output device name or index (see `gesturegan doctor`)")
    p.add_argument(
        "--channels", metavar="N", type=int, default=2, help="output channels (speakers), default 2"
    )
    p.add_argument(
        "--block", metavar="FRAMES", type=int, default=128, help="frames per audio block (default 128)"
    )
    p.add_argument(
        "--sample-rate",
        metavar="HZ",
        type=int,
        help="device rate (default: the device's own; gestures are resampled)",
    )
    p.add_argument("--voices", metavar="N", type=int, default=32, help="voice limit (default 32)")
    p.add_argument(
        "--reserve-grid",
        type=int,
        default=8,
        metavar="N",
        help="keep one gesture ready at each point of an N x N grid over the XY pad, so the first "
        "trigger after a morph plays at once from the nearest point (default 8; 0: none, that "
        "trigger waits for the model)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="N", help="latent seed at start (default 0)")
    p.add_argument(
        "--midi", metavar="NAME", help="open this MIDI input (default: a virtual port named gesturegan)"
    )
    p.add_argument("--no-midi", action="store_true", help="no MIDI input")
    p.add_argument(
        "--models", metavar="DIR", help="folder /model/load picks from (names only; nothing outside it)"
    )
    p.add_argument(
        "--render-dir", metavar="DIR", help="folder /render writes WAVs into (replies /rendered path)"
    )
    p.add_argument(
        "--sounds",
        metavar="DIR",
        help="folder of real sounds /like picks from (MIDI CC 20 too): triggers then play new takes of "
        "the chosen sound; needs MODEL.encoder.onnx beside the model",
    )
    p.add_argument(
        "--midi-map",
        type=Path,
        metavar="TOML",
        help="MIDI map: a TOML file setting any of "
        + _midi_map_defaults()
        + " (the defaults), and channel = 0..15 "
        "to listen to MIDI channel 1..16 only (default every channel)",
    )
    _add_provider(p)
    p.add_argument("--stats", type=Path, metavar="FILE", help="write the session's counters as JSON on exit")
    p.add_argument(
        "--record",
        metavar="DIR",
        help="write the performance (performance.wav) and every event (events.jsonl) into DIR; "
        "`gesturegan replay DIR` renders it again, identically",
    )
    p.set_defaults(func=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    import os

    from gesturegan.server.audio.backends import AudioError
    from gesturegan.server.core.engine import EngineConfig
    from gesturegan.server.inference.model import ModelError, default_model_path, load_model
    from gesturegan.server.runtime import Live, ServeConfig

    try:
        # Leave a core to the audio thread and never busy-wait: on two cores, onnxruntime's
        # spinning threads starved the callback (20 xruns per 20 triggers, 1 thread unspun: 2).
        threads = max(1, min(4, (os.cpu_count() or 2) - 1))
        model = load_model(
            args.model or default_model_path(),
            provider=args.provider,
            batch_sizes=(1, 4),
            threads=threads,
            spinning=False,
        )
    except ModelError as e:
        raise CommandError(str(e)) from e
    cfg = EngineConfig(
        sample_rate=args.sample_rate or 0,
        channels=args.channels,
        block=args.block,
        max_voices=args.voices,
        seed=args.seed,
        reserve_grid=max(0, args.reserve_grid),
    )
    serve = ServeConfig(
        host=args.host,
        osc_port=args.osc_port,
        reply_host=args.reply_host,
        reply_port=args.reply_port,
        allow=args.allow.split(",") if args.allow else None,
        device=args.device,
        hostapi=None if args.audio == "default" else args.audio,
        backend=("jack" if args.audio == "jack" else "sounddevice")
        if args.backend == "auto"
        else args.backend,
        mixer=args.mixer,
        models_dir=args.models,
        render_dir=str(Path(args.render_dir).resolve())
        if args.render_dir
        else None,  # /rendered says absolute paths
        sounds_dir=args.sounds,
        record_dir=args.record,
        provider=args.provider,
        threads=threads,
    )
    if args.sounds:
        from gesturegan.server.inference.model import encoder_beside

        if not Path(args.sounds).is_dir():
            raise CommandError(f"--sounds {args.sounds}: not a folder")
        if not encoder_beside(model.path).exists():
            raise CommandError(
                f"--sounds needs the model's encoder ({encoder_beside(model.path).name} beside "
                f"{model.path.name}); export a twostage or vae run, or leave --sounds out"
            )
    try:
        live = Live(model, cfg, serve).start()
    except (AudioError, OSError) as e:
        raise CommandError(str(e)) from e
    from gesturegan.server.control.midi import MidiMapError
    from gesturegan.server.runtime import open_midi, run_until_stopped, session_stats

    midi = None
    if not args.no_midi:
        try:
            midi, said = open_midi(
                live, args.midi_map, args.midi, jack=args.audio == "jack" or args.backend == "jack"
            )
        except MidiMapError as e:
            live.close()
            raise CommandError(str(e)) from e
        print(said, file=sys.stderr)
    print(
        f"serving {model.path.name} ({model.info.family}, {model.provider}) on osc udp://{args.host}:{live.osc.port}, "
        f"replies to {args.reply_host}:{args.reply_port}, {cfg.channels} ch at {live.engine.cfg.sample_rate} Hz, "
        f"block {live.engine.cfg.block}. Ctrl-C stops.",
        file=sys.stderr,
    )
    run_until_stopped(live, midi)
    e = live.engine
    print(
        f"stopped: {_count(e.counts['triggers'], 'trigger')}, {_count(e.counts['misses'], 'pool miss', 'pool misses')}, "
        f"{_count(e.counts['errors'], 'refused message')}, {_count(live.audio.xruns, 'xrun')}",
        file=sys.stderr,
    )
    if args.stats:
        from gesturegan.files import write_json_atomic

        write_json_atomic(args.stats, session_stats(live, midi))
    return 0


# -- osc-spec ------------------------------------------------------------------------------
def _add_osc_spec(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "osc-spec",
        help="the OSC address space, from the dispatcher itself",
        description="Print every OSC address the engine accepts, its arguments, ranges and meaning.",
        epilog="Example: gesturegan osc-spec --json > osc-spec.json",
    )
    p.add_argument("--json", action="store_true", help="print JSON (for Max patches and other tools)")
    p.set_defaults(func=_run_osc_spec)


def _num(x: float | None) -> str | None:
    if x is None:
        return None
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _run_osc_spec(args: argparse.Namespace) -> int:
    import json

    from gesturegan.server.core.commands import describe, describe_replies

    rows = describe()
    if args.json:
        spec = {
            "addresses": rows,
            "replies": describe_replies(),
            "ports": {"osc": DEFAULT_OSC_PORT, "reply": DEFAULT_REPLY_PORT},
        }
        print(json.dumps(spec, indent=2))
        return 0
    for r in rows:
        sig = " ".join(
            (f"{a['name']}" if a["required"] else f"[{a['name']}]") + f":{a['type']}" for a in r["args"]
        )
        print(f"{r['address']} {sig}".rstrip())
        print(f"    {r['help']}")
        for a in r["args"]:
            lo, hi = _num(a["min"]), _num(a["max"])
            rng = "" if lo is None else (f" {lo}..{hi}" if hi is not None else f" >= {lo}")
            default = "" if a["required"] or a["default"] is None else f", default {a['default']}"
            extra = f": {a['help']}" if a["help"] else ""
            print(f"      {a['name']}: {a['type']}{rng}{default}{extra}")
    print(f"\nReplies (to --reply-port, default {DEFAULT_REPLY_PORT}):")
    for r in describe_replies():
        sig = " ".join(a["name"] for a in r["args"])
        print(f"{r['address']} {sig}".rstrip())
        print(f"    {r['help']}")
    return 0


# -- export / inspect ----------------------------------------------------------------------
def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="freeze a run into one self-describing ONNX file",
        description=(
            "Export a run's EMA generator, latent to waveform with the inverse transform inside, "
            "as ONNX (opset 17, dynamic batch) with the contract's metadata. onnxruntime output is "
            "compared with PyTorch on pure and mixed categories first; above --tolerance nothing is "
            "written. A VAE also writes MODEL.encoder.onnx (audio -> mu, logvar)."
        ),
        epilog="Example: gesturegan export runs/mine --out models/mine.onnx && gesturegan inspect models/mine.onnx",
    )
    p.add_argument("run", metavar="RUN", type=Path, help="run folder (or one checkpoint .pt)")
    p.add_argument("--out", required=True, type=Path, metavar="MODEL.onnx", help="file to write")
    p.add_argument(
        "--checkpoint",
        choices=("best", "latest"),
        default="best",
        help="which checkpoint of RUN (default best)",
    )
    p.add_argument(
        "--fp16",
        action="store_true",
        help="half-precision network for GPUs; exp, phase and the inverse transform stay float32",
    )
    p.add_argument(
        "--half-weights",
        action="store_true",
        help="store the weights in half precision (about half the file) and compute in float32: "
        "on CPUs a little faster than --fp16 (1-5 %% for the bundled model)",
    )
    p.add_argument(
        "--tolerance",
        metavar="T",
        type=float,
        help="largest |onnxruntime - torch| allowed (default 1e-3, with --fp16 or --half-weights 2e-2)",
    )
    p.add_argument(
        "--harmonic-synthesis",
        choices=("time", "spectral"),
        help="how a harmonic branch plays its partials (default: as the run trained, model.harmonic_synthesis): "
        "'spectral' writes them into the STFT head's spectrum before its inverse transform: the model "
        "8 to 16 %% faster than with 'time' (sines summed per sample), within about -35 dB of it on glides "
        "and -60 dB on steady partials (docs/training.md)",
    )
    p.add_argument("--opset", metavar="N", type=int, default=17, help="ONNX opset (17 or newer; default 17)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace MODEL.onnx (and its encoder) if it exists"
    )
    p.set_defaults(func=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    try:
        from gesturegan.export.onnx_export import ExportError, export_run
    except ImportError as e:
        raise CommandError(
            f'export needs the train extra (torch, onnx): pip install -e ".[train]" ({e})'
        ) from e
    try:
        r = export_run(
            args.run,
            args.out,
            which=args.checkpoint,
            tolerance=args.tolerance,
            opset=args.opset,
            fp16=args.fp16,
            overwrite=args.overwrite,
            half_weights=args.half_weights,
            harmonic_synthesis=args.harmonic_synthesis,
        )
    except ExportError as e:
        raise CommandError(str(e)) from e
    i = r.info
    print(f"from {r.checkpoint} (step {r.step}{'; ' + r.note if r.note else ''})")
    print(
        f"wrote {r.path} ({r.size_bytes / 1e6:.1f} MB): {i.family}, {', '.join(i.categories)}, "
        f"{i.channels} ch x {i.n_samples} samples at {i.sample_rate} Hz, {_precision(i)}; "
        f"max |onnxruntime - torch| = {r.max_error:.2e}"
    )
    if r.encoder_path is not None:
        print(f"wrote {r.encoder_path}: encoder, max |onnxruntime - torch| = {r.encoder_error:.2e}")
    return 0


def _precision(info) -> str:
    """``fp32``, ``fp16``, or ``fp32, weights stored fp16`` (export's ``--half-weights``)."""
    storage = info.details.get("weight_storage")
    return f"{info.precision}, weights stored {storage}" if storage else info.precision


def _add_inspect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="print the contract of an ONNX model and what the loader would do",
        description="Validate MODEL.onnx against the contract and print its metadata, shapes and provider.",
        epilog="Example: gesturegan inspect models/mine.onnx --provider cpu",
    )
    _add_model(p)
    _add_provider(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_run_inspect)


def _run_inspect(args: argparse.Namespace) -> int:
    import json

    from gesturegan.server.inference.model import ModelError, default_model_path, open_session

    try:
        args.model = args.model or default_model_path()
        session, info, provider = open_session(args.model, args.provider, role=None)
    except ModelError as e:
        raise CommandError(str(e)) from e
    report = {
        "contract": info.to_dict(),
        "loader": {
            "provider": provider,
            "inputs": {i.name: i.shape for i in session.get_inputs()},
            "outputs": {o.name: o.shape for o in session.get_outputs()},
            "duration_s": round(info.duration_s, 4),
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    data = info.training.get("data", {})
    run = info.training.get("run", {})
    lines = [
        f"{args.model}: gesturegan contract v{info.contract_version}, {info.role}",
        f"  family          {info.family} ({info.representation}, {_precision(info)})",
        f"  audio           {info.channels} ch x {info.n_samples} samples at {info.sample_rate} Hz "
        f"({info.duration_s:.3f} s)",
        f"  latent_dim      {info.latent_dim}",
        f"  categories      {', '.join(f'{k}:{c}' for k, c in enumerate(info.categories))}",
        f"  trained on      {data.get('n_examples', '?')} examples from {data.get('n_files', '?')} files "
        f"(dataset {data.get('fingerprint', '?')}), step {run.get('step', '?')}",
        f"  created         {info.created_at} by gesturegan {info.gesturegan_version}",
        "loader:",
        f"  provider        {provider}",
    ]
    lines += [f"  input  {i.name:8s} {i.shape}" for i in session.get_inputs()]
    lines += [f"  output {o.name:8s} {o.shape}" for o in session.get_outputs()]
    # how the model was built (the prior, a harmonic branch and how it plays): the one-line facts
    # of the metadata's details; the rest (tables, gains) is in --json
    shown = {"family", "representation", "weight_storage"}
    facts = [
        (key, value)
        for key, value in info.details.items()
        if key not in shown and isinstance(value, (str, int, float)) and not isinstance(value, bool)
    ]
    if facts:
        lines.append("details:")
        lines += [f"  {key:18s} {value}" for key, value in facts]
    print("\n".join(lines))
    return 0


# -- doctor --------------------------------------------------------------------------------
def _add_doctor(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor",
        help="audio/MIDI devices, onnxruntime providers, GPU, JACK, real-time readiness",
        description="Print what this machine offers the engine: paste it into a bug report.",
        epilog="Example: gesturegan doctor --json > doctor.json",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=_run_doctor)


def _run_doctor(args: argparse.Namespace) -> int:
    import json

    from gesturegan.server.tools.doctor import collect, render_text

    report = collect()
    print(json.dumps(report, indent=2) if args.json else render_text(report))
    return 0


# -- replay --------------------------------------------------------------------------------
def _add_replay(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay",
        help="render a recorded performance again, offline",
        description=(
            "Render a performance recorded with `gesturegan serve --record DIR` again, offline: "
            "every gesture is regenerated from its recorded latents by the same model, every "
            "event runs at the frame it ran at live. Writes DIR/replay.wav (or --out) and "
            "compares it with the live recording."
        ),
        epilog="Example: gesturegan serve --record takes/tuesday ... ; gesturegan replay takes/tuesday",
    )
    p.add_argument("folder", metavar="DIR", type=Path, help="a folder written by serve --record")
    p.add_argument("--out", type=Path, metavar="FILE.wav", help="WAV to write (default DIR/replay.wav)")
    _add_provider(p, default="cpu", why="cpu: the same numbers the recording was made with on a CPU")
    p.set_defaults(func=_run_replay)


def _run_replay(args: argparse.Namespace) -> int:
    from gesturegan.files import write_wav_atomic
    from gesturegan.server.audio.record import RecordError, compare_with_live, replay

    try:
        audio, rate = replay(args.folder, args.provider)
    except RecordError as e:
        raise CommandError(str(e)) from e
    out = args.out or args.folder / "replay.wav"
    write_wav_atomic(out, audio, rate, subtype="FLOAT")
    line = f"wrote {out}: {audio.shape[0] / rate:.2f} s, {audio.shape[1]} ch at {rate} Hz"

    diff = compare_with_live(args.folder, audio)
    if diff is not None:
        line += "; identical to the live recording" if diff == 0 else f"; max difference from live {diff:.3g}"
    print(line)
    return 0


# -- demo ----------------------------------------------------------------------------------
def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="a scripted performance on the bundled model",
        description=(
            "Play a short scripted performance (about 24 s) through the real engine, driven by real "
            "OSC messages over loopback: each category, a morph sweep across the XY pad, a stream "
            "passage, a timetagged phrase. Writes demo.wav, demo.png (spectrogram, gesture starts "
            "marked), the event log (events.jsonl, sent.jsonl) into --out; --play also plays it."
        ),
        epilog="Example: gesturegan demo --out demo/ && gesturegan replay demo/",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("gesturegan-demo"),
        metavar="DIR",
        help="folder (default gesturegan-demo)",
    )
    p.add_argument("--play", action="store_true", help="play through the sound card as well")
    p.add_argument(
        "--model", metavar="MODEL.onnx", type=Path, help="a model to play (default: the bundled one)"
    )
    p.add_argument("--device", metavar="NAME", help="output device with --play (see `gesturegan doctor`)")
    p.add_argument(
        "--audio",
        metavar="API",
        default=None,
        help="host API with --play: jack, coreaudio, asio, wasapi, alsa",
    )
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from gesturegan.server.audio.backends import AudioError
    from gesturegan.server.inference.model import ModelError, default_model_path, load_model
    from gesturegan.server.tools.demo import levels, perform

    try:
        model = load_model(
            args.model or default_model_path(), provider="auto", batch_sizes=(1, 4), spinning=False
        )
    except ModelError as e:
        raise CommandError(str(e)) from e
    print(
        f"playing the demo on {model.path.name} ({model.info.family}, {model.provider}) ...", file=sys.stderr
    )
    with tqdm(total=100, unit="%", desc="demo", leave=False, disable=None) as bar:

        def progress(fraction: float) -> None:
            bar.n = round(100 * fraction)
            bar.refresh()

        try:
            summary = perform(model, args.out, args.play, args.device, args.audio, progress=progress)
        except AudioError as e:
            raise CommandError(f"{e}. Without --play the demo writes files only.") from e
    lv = levels(args.out)
    print(
        f"wrote {args.out / 'demo.wav'} ({summary['seconds']:.0f} s, {summary['sample_rate']} Hz, "
        f"peak {lv['peak_dbfs']} dBFS) and {args.out / 'demo.png'}: {summary['cues']} OSC messages, "
        f"{summary['triggers']} gestures, {summary['misses']} pool misses, {summary['late']} late, "
        f"{summary['xruns']} xruns. Replay it: gesturegan replay {args.out}"
    )
    return 0


# -- bench ---------------------------------------------------------------------------------
def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="latency, speed and xruns, measured",
        description=(
            "Measure and print: generation speed (ms per gesture, real-time factor) at batch 1, 16 "
            "and 64 on each onnxruntime provider, beside the same architecture in PyTorch and the "
            "SpecGAN baseline with Griffin-Lim (when torch is installed); trigger-to-sound latency "
            "of OSC and MIDI against a running `gesturegan serve`, beside a bare sounddevice floor, "
            "at each block size on a JACK dummy server it starts; xruns under stress (32 voices, "
            "500 OSC messages/s) and the server's memory. Percentiles from one run; nothing asserted."
        ),
        epilog="Example: gesturegan bench --json bench.json --markdown bench.md",
    )
    p.add_argument(
        "--model", metavar="MODEL.onnx", type=Path, help="model to measure (default: the bundled one)"
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="write every figure here")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="write the tables here")
    p.add_argument(
        "--blocks", default="128,256", metavar="N,N", help="JACK block sizes for latency (default 128,256)"
    )
    p.add_argument(
        "--trials", type=int, default=100, metavar="N", help="latency trials per path and block (default 100)"
    )
    p.add_argument(
        "--stress-seconds",
        type=float,
        default=60.0,
        metavar="S",
        help="stress period per block size (default 60)",
    )
    p.add_argument(
        "--stress-blocks",
        default="256,128",
        metavar="N,N",
        help="block sizes for the stress (default 256,128)",
    )
    p.add_argument(
        "--batches", default="1,16,64", metavar="N,N", help="generation batch sizes (default 1,16,64)"
    )
    p.add_argument("--no-baselines", action="store_true", help="skip the PyTorch and SpecGAN baselines")
    p.add_argument(
        "--beside",
        type=Path,
        metavar="OTHER.onnx",
        help="also measure this model's generation, in turns with MODEL's (12 rounds of a quarter second each) in the same run: compare the two rows, since a shared machine's speed drifts",
    )
    p.add_argument("--no-audio", action="store_true", help="generation speed only: no JACK latency or stress")
    p.add_argument(
        "--backend",
        default="jack",
        choices=("jack", "sounddevice"),
        help="the server's audio backend for latency and stress (default jack: its own JACK client; "
        "sounddevice: PortAudio's JACK host API)",
    )
    p.add_argument(
        "--stress-mixers",
        default="process,thread",
        metavar="PLACES",
        help="with --backend jack, run the stress once per placement of the audio callback: process (a "
        "process of its own, serve's default) and thread (in the engine's process), side by side "
        "(default process,thread)",
    )
    p.set_defaults(func=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    import json
    import os

    from gesturegan.files import write_json_atomic, write_text_atomic
    from gesturegan.server.inference.model import ModelError, default_model_path
    from gesturegan.server.tools import bench
    from gesturegan.server.tools.jackd import JackError

    def ints(text: str, flag: str) -> tuple[int, ...]:
        try:
            return tuple(int(x) for x in text.split(",") if x)
        except ValueError as e:
            raise CommandError(f"{flag} takes numbers separated by commas, not {text!r}") from e

    def baselines() -> list[dict] | str:
        """The gan in PyTorch and the SpecGAN baseline (Griffin-Lim in its graph), if torch is here."""
        try:
            from gesturegan.export.benchmark import benchmark
        except ImportError as e:
            print(f"  PyTorch and SpecGAN baselines skipped: {e} (pip install -e '.[train]')", flush=True)
            return f"skipped: {e}"
        print("baselines (default config, initial weights; speed does not depend on them):", flush=True)
        cpus = os.cpu_count() or 2
        batches = ints(args.batches, "--batches")
        return benchmark(None, cpus, batches, repeats=3, min_seconds=1.0, families=("gan", "specgan"))["rows"]

    mixers = tuple(m for m in args.stress_mixers.split(",") if m)
    if not mixers or set(mixers) - {"process", "thread"}:
        raise CommandError(f"--stress-mixers takes process and/or thread, not {args.stress_mixers!r}")
    try:
        model = args.model or default_model_path()
        result = bench.run(
            model,
            blocks=ints(args.blocks, "--blocks"),
            trials=args.trials,
            stress_seconds=args.stress_seconds,
            stress_blocks=ints(args.stress_blocks, "--stress-blocks"),
            batches=ints(args.batches, "--batches"),
            baselines=None if args.no_baselines else baselines,
            log=lambda line: print(line, flush=True),
            backend=args.backend,
            mixers=mixers,
            beside=args.beside,
            audio=not args.no_audio,
        )
    except (ModelError, JackError) as e:
        raise CommandError(str(e)) from e
    table = bench.markdown(result)
    print("\n" + table)
    if args.json:
        write_json_atomic(args.json, json.loads(json.dumps(result, default=str)))
    if args.markdown:
        write_text_atomic(args.markdown, table + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gesturegan",
        description=(
            "Play generated sound gestures: prepare your sounds, train a category-conditioned "
            "generator, export it to ONNX and play it live over OSC and MIDI."
        ),
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"gesturegan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_prepare(sub)
    _add_classify(sub)
    _add_train(sub)
    _add_evaluate(sub)
    _add_export(sub)
    _add_inspect(sub)
    _add_render(sub)
    _add_serve(sub)
    _add_osc_spec(sub)
    _add_replay(sub)
    _add_demo(sub)
    _add_bench(sub)
    _add_doctor(sub)
    return parser


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


# Where each command writes: (argument, "folder" or "file", its flag). Checked before any work.
OUTPUTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "prepare": (("out", "folder", "--out"),),
    "classify": (("out", "file", "--out"), ("copy", "folder", "--copy"), ("move", "folder", "--move")),
    "train": (("out", "folder", "--out"),),
    "evaluate": (("out", "folder", "--out"), ("json", "file", "--json")),
    "render": (("out", "folder", "--out"),),
    "serve": (("record", "folder", "--record"), ("render_dir", "folder", "--render-dir")),
    "export": (("out", "file", "--out"),),
    "replay": (("out", "file", "--out"),),
    "demo": (("out", "folder", "--out"),),
    "bench": (("json", "file", "--json"), ("markdown", "file", "--markdown")),
}


def main(argv: list[str] | None = None) -> int:
    from gesturegan.files import OutputPathError, check_output_path

    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if not getattr(args, "func", None):
        if unknown:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        parser.print_help()
        return 2
    if unknown:  # the command's own usage, not the top level's
        _subparser(parser, args.command).error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        for name, kind, flag in OUTPUTS.get(args.command, ()):
            if getattr(args, name, None) is not None:
                check_output_path(getattr(args, name), kind, flag)
    except OutputPathError as exc:
        print(f"gesturegan {args.command}: {exc}", file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except CommandError as exc:
        print(f"gesturegan {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gesturegan {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `gesturegan osc-spec | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0
