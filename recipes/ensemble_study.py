"""MBR over the pooled beams of several checkpoints (an ensemble), against each checkpoint alone.

    python ensemble_study.py DATA_DIR OUT_DIR NAME=CKPT [NAME=CKPT ...]

Each checkpoint decodes the dev split once per length penalty with a 16-wide beam (all 16 answers and their
scores kept, cached in OUT_DIR/beams_NAME_lpX.json); then each member alone (MBR over its own beam) and
every pair of members (MBR over both beams) are scored, per length penalty, into OUT_DIR/scores.json.
"""
import itertools
import json
import os
import sys

from codeqa.checkpoint import load_model
from codeqa.data import read_split
from codeqa.decode import DecodeConfig, predict
from codeqa.metrics import compute_metrics
from codeqa.rerank import mbr

data_dir, out, *members = sys.argv[1:]
members = dict(m.split("=", 1) for m in members)
penalties = (0.5, 1.0, 1.5)
beams = {}
examples = None
for name, ck in members.items():
    model = None
    for lp in penalties:
        path = os.path.join(out, f"beams_{name}_lp{lp}.json")
        if os.path.exists(path):
            beams[name, lp] = json.load(open(path))
            continue
        if model is None:
            model, vocab, config = load_model(ck, "cpu")
        if examples is None:
            examples = read_split(data_dir, config.lang, "dev", config.code_field, keep_empty=True)
        dec = DecodeConfig.from_config(config, beam_size=16, length_penalty=lp, rerank="score")
        beams[name, lp] = predict(model, examples, vocab, dec, "cpu", top_k=16)
        json.dump(beams[name, lp], open(path, "w"))
        print(name, lp, "decoded", flush=True)
refs = open(os.path.join(data_dir, "python/dev/dev.answer")).read().splitlines()
scores = {}
for lp in penalties:
    for name in members:
        scores[f"{name} lp{lp}"] = compute_metrics([mbr(o)[0][0] if o else "" for o in beams[name, lp]], refs)
    for a, b in itertools.combinations(members, 2):
        pooled = [mbr([tuple(x) for x in beams[a, lp][i] + beams[b, lp][i]])[0][0] for i in range(len(refs))]
        scores[f"{a}+{b} lp{lp}"] = compute_metrics(pooled, refs)
for k, v in scores.items():
    print(k, {m: round(v[m], 2) for m in ("f1", "rouge_l", "exact_match", "bleu")})
json.dump(scores, open(os.path.join(out, "scores.json"), "w"), indent=1)
