"""Study (#22): does the MBR weighting's temperature matter? Decodes the held-out split once per length penalty with
a 16-wide beam, keeps every hypothesis with its score, and re-ranks them offline by expected token F1 with weights
exp((score - best) / T) for several T (T = 1 is `rerank: mbr` as it ships; "uniform" weighs every hypothesis alike).

    python recipes/mbr_temperature_study.py CHECKPOINT DATA_DIR OUT_JSON
"""

from __future__ import annotations

import json
import math
import sys

from codeqa.checkpoint import load_model
from codeqa.data import read_split
from codeqa.decode import DecodeConfig, predict
from codeqa.metrics import bag_f1, compute_metrics, token_bag

TEMPERATURES = (0.25, 0.5, 1.0, 2.0, 4.0, math.inf)
LENGTH_PENALTIES = (0.5, 1.0, 1.5)


def mbr_pick(options: list[tuple[str, float]], temperature: float) -> str:
    top = max(score for _, score in options)
    weights = [1.0 if math.isinf(temperature) else math.exp((score - top) / temperature) for _, score in options]
    bags = [token_bag(text) for text, _ in options]
    gains = [sum(w * (1.0 if i == j else bag_f1(bags[i], bags[j]) / 100.0) for j, w in enumerate(weights))
             for i in range(len(options))]
    return options[max(range(len(options)), key=lambda i: (gains[i], -i))][0]


def main(checkpoint: str, data_dir: str, out: str) -> None:
    model, vocab, config = load_model(checkpoint, "cpu")
    examples = read_split(data_dir, config.lang, "dev", config.code_field, keep_empty=True)
    references = [e.answer for e in examples]
    rows = []
    for lp in LENGTH_PENALTIES:
        decoding = DecodeConfig.from_config(config, beam_size=16, length_penalty=lp, rerank="score")
        beams = predict(model, examples, vocab, decoding, "cpu", top_k=16, progress=True)
        for t in TEMPERATURES:
            answers = [mbr_pick(options, t) if options else "" for options in beams]
            m = compute_metrics(answers, references)
            rows.append({"length_penalty": lp, "temperature": "uniform" if math.isinf(t) else t,
                         "f1": m["f1"], "rouge_l": m["rouge_l"], "exact_match": m["exact_match"], "bleu": m["bleu"]})
            print(json.dumps(rows[-1]), flush=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"checkpoint": checkpoint, "beam_size": 16, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])
