"""Decode the validation split of a fine-tuned model with <eos> penalties; one JSON row per setting."""
import sys
import time

import torch

from codeqa.checkpoint import load_model
from codeqa.data import read_split
from codeqa.decode import DecodeConfig, predict
from codeqa.fileio import write_json
from codeqa.metrics import compute_metrics
from codeqa.rerank import rank

checkpoint, data_dir, out = sys.argv[1:4]
settings = [(1, 1.0, "score", p) for p in (0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)]
settings += [(16, lp, "mbr", p) for p in (0, 0.5, 1.0) for lp in (0.5, 1.0)]
torch.set_num_threads(1)
model, vocab, config = load_model(checkpoint, "cpu")
examples = read_split(data_dir, config.lang, config.valid_split, config.code_field)
refs = [e.answer for e in examples]
rows = []
for beam, lp, rr, pen in settings:
    t = time.time()
    dec = DecodeConfig.from_config(config, beam_size=beam, length_penalty=lp, rerank="score").replace(eos_penalty=pen)
    outs = predict(model, examples, vocab, dec, "cpu", top_k=beam)
    preds = [rank(o, rr)[0][0] if o else "" for o in outs]
    m = compute_metrics(preds, refs)
    row = {"beam_size": beam, "length_penalty": lp, "rerank": rr, "eos_penalty": pen,
           "mean_answer_tokens": round(sum(len(p.split()) for p in preds) / len(preds), 2),
           **{k: round(v, 2) for k, v in m.items() if k != "count"}, "seconds": round(time.time() - t, 1)}
    rows.append(row)
    print(row, flush=True)
    write_json(out, {"checkpoint": checkpoint, "no_repeat_ngram_size": config.no_repeat_ngram_size, "rows": rows})
