#!/usr/bin/python3
"""ACC / ASR / RA of a model bundle on the Fashion-MNIST test set (PyTorch cross-check of
`guard evaluate`).

  /usr/bin/python3 bench/torch_evaluate.py --model DIR --trigger badnets|blended|sig --target 0 [--json]
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from pyguard import bundle, data, metrics, triggers  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="bundle directory")
    ap.add_argument("--trigger", default="badnets", choices=sorted(triggers.TRIGGERS))
    ap.add_argument("--target", type=int, default=0)
    ap.add_argument("--trigger-seed", type=int, default=0, help="blended noise seed (default 0)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    model, meta = bundle.read_bundle(args.model)
    x_test, y_test = data.load_idx_dataset("test", args.data_dir)
    if list(x_test.shape[1:]) != list(meta["input_shape"]):
        ap.error(f"test images {list(x_test.shape[1:])} do not match input_shape {meta['input_shape']}")
    kwargs = {"seed": args.trigger_seed} if args.trigger == "blended" else {}
    m = metrics.evaluate(model, x_test, y_test, args.trigger, args.target,
                         meta["normalize"]["mean"], meta["normalize"]["std"], kwargs)
    if args.json:
        print(json.dumps({"framework": "pytorch", "model": args.model, "architecture": meta["architecture"],
                          "trigger": args.trigger, "target": args.target, **m}))
    else:
        print(f"model    {args.model} ({meta['architecture']})")
        print(f"trigger  {args.trigger}, target {args.target}")
        print(f"ACC      {100 * m['acc']:6.2f} %  ({m['n_clean']} clean test images)")
        print(f"ASR      {100 * m['asr']:6.2f} %  ({m['n_triggered']} triggered non-target images)")
        print(f"RA       {100 * m['ra']:6.2f} %")


if __name__ == "__main__":
    main()
