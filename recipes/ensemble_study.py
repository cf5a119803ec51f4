"""MBR over the pooled beam-16 answers of several fine-tunings (#22; results/ensemble_six_fine_tunings_small_cpu.json;
recipes/gpu_sweep.sh's ensemble rows). Decodes on the GPU where there is one.

    python recipes/ensemble_study.py decode W/real OUT_DIR/NAME.json CHECKPOINT   (once per member)
    python recipes/ensemble_study.py pool W/real OUT_DIR/scores.json NAME [NAME ...]
"""
import json
import sys
from pathlib import Path

import torch

from codeqa.checkpoint import load_model
from codeqa.data import read_split
from codeqa.decode import DecodeConfig, predict
from codeqa.metrics import compute_metrics
from codeqa.rerank import mbr

mode, data_dir, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
if mode == "decode":
    ck = sys.argv[4]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, vocab, config = load_model(ck, device)
    examples = read_split(data_dir, config.lang, "dev", config.code_field, keep_empty=True)
    dec = DecodeConfig.from_config(config, beam_size=16, length_penalty=1.0, rerank="score")
    beams = predict(model, examples, vocab, dec, device, top_k=16)
    out.write_text(json.dumps(beams))
else:
    members = sys.argv[4:]
    refs = Path(data_dir, "python/dev/dev.answer").read_text().splitlines()
    beams = {m: json.loads(Path(out.parent, f"{m}.json").read_text()) for m in members}
    rows = {}
    for m in members:
        rows[m] = compute_metrics([mbr([tuple(x) for x in b])[0][0] if b else "" for b in beams[m]], refs)
    for group in (members[:3], members):
        pooled = [mbr([tuple(x) for m in group for x in beams[m][i]])[0][0] for i in range(len(refs))]
        rows["+".join(group)] = compute_metrics(pooled, refs)
    kept = {k: {m: round(v[m], 2) for m in ("f1", "rouge_l", "exact_match")} for k, v in rows.items()}
    out.write_text(json.dumps(kept, indent=1))
    print(out.read_text())
