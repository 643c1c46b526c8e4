"""``m2 query``: ask one spatial question about one image (or several)."""

from __future__ import annotations

import argparse
import json

from m2sdk.runtime.numbers import NUMBER_MODES


def register(subparsers, name: str, help_text: str, formatter_class) -> None:
    p = subparsers.add_parser(
        name,
        help=help_text,
        description="Answer one spatial question about one or more images.",
        epilog=(
            "Example:\n  m2 query frame.png 'How far is the chair from the camera, in metres?' --fast\n"
            "  m2 query --model bundles/tiny-fp32 --backend onnxruntime frame.png 'How many chairs?' --fast"
        ),
        formatter_class=formatter_class,
    )
    p.add_argument("images", nargs="+", help="image file(s), then the question as the last argument")
    p.add_argument("--model", default="m2-mini", help="checkpoint folder, bundle folder, preset or bundled model name")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime", "tensorrt"])
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--fast", action="store_true", help="answer only, no chain of thought")
    p.add_argument("--max-new-tokens", type=int, default=None, help="token budget of the answer")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = deterministic, > 0 samples")
    p.add_argument(
        "--numbers", default="median", choices=NUMBER_MODES,
        help="digits of a numeric answer (temperature 0): the median of the model's distribution, or the likeliest",
    )  # fmt: skip
    p.add_argument("--options", nargs="*", default=None, help="option texts of a multiple-choice question")
    p.add_argument("--json", action="store_true", help="print the Answer as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import m2sdk

    if len(args.images) < 2:
        raise m2sdk.InputError("give at least one image and the question, e.g. m2 query frame.png 'How far...?'")
    *images, question = args.images
    model = m2sdk.load(args.model, backend=args.backend, device=args.device)
    answer = model.query(
        images if len(images) > 1 else images[0], question, reasoning=not args.fast,
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, numbers=args.numbers, options=args.options,
    )  # fmt: skip
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2))
        return 0
    value = f"{answer.value:g} {answer.unit or ''}".strip() if answer.value is not None else "-"
    print(f"answer  : {answer.text}")
    print(f"value   : {value}   choice: {answer.choice or '-'}   kind: {answer.kind.value}")
    if answer.reasoning:
        print(f"thinking: {answer.reasoning[:500]}")
    t = answer.timings
    print(
        f"backend : {answer.backend}   total {t.total_ms:.0f} ms (pre {t.preprocess_ms:.0f}, vision {t.vision_ms:.0f}, "
        f"prefill {t.prefill_ms:.0f}, decode {t.decode_ms:.0f}; {t.tokens_per_s:.1f} tok/s)"
    )
    return 0
