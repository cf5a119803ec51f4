"""Study (#22): does a nearest-neighbour memory of the real training answers help decoding? (kNN-MT)

    python recipes/knn_study.py CHECKPOINT DATA_DIR OUT.json [--settings K:T:LAMBDA ...] [--beam-settings ...]
                                [--pretrain-pairs N]

The datastore holds, for every answer token of the training split, the fine-tuned decoder's state before
it (teacher-forced) as the key and the token as the value; tokens outside the vocabulary (copies of a
source word that only that example has) are left out; --pretrain-pairs adds generated pairs' states.
At each decoding step the K nearest stored states give a distribution over the vocabulary,
softmax(-squared distance / T), mixed into the model's final distribution with weight LAMBDA. Greedy
decoding scores every setting; beam 16 with MBR at length penalties 0.5 / 1.0 / 1.5 scores the control
and the --beam-settings. All scores go to OUT.json.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from codeqa.batching import collator_for, encode_all
from codeqa.checkpoint import load_model
from codeqa.data import read_split
from codeqa.decode import DecodeConfig, predict
from codeqa.metrics import compute_metrics
from codeqa.models.base import CopyModel


class KnnCopy(CopyModel):
    """The fine-tuned model, its final distribution mixed with the datastore's."""

    def __init__(self, inner: CopyModel, keys: torch.Tensor, values: torch.Tensor):
        super().__init__(inner.vocab_size, inner.pad_id)
        self.inner, self.keys, self.values = inner, keys, values
        self.key_norms = (keys * keys).sum(1)
        self.k, self.temperature, self.weight = 16, 1.0, 0.0

    def encode(self, src):
        return self.inner.encode(src)

    def decode(self, memory, tgt_in, cache=None):
        return self.inner.decode(memory, tgt_in, cache)

    def generator(self, hidden):
        return self.inner.generator(hidden)

    def reorder(self, memory, cache, index):
        return self.inner.reorder(memory, cache, index)

    def final_log_probs(self, hidden, attn, p_gen, src_ext, n_oov):
        logp = self.inner.final_log_probs(hidden, attn, p_gen, src_ext, n_oov)
        if self.weight == 0.0:
            return logp
        query = hidden.float()
        distance = (query * query).sum(1, keepdim=True) - 2 * query @ self.keys.T + self.key_norms[None, :]
        nearest, index = distance.topk(self.k, dim=1, largest=False)
        weights = torch.softmax(-nearest / self.temperature, dim=1)
        knn = torch.zeros_like(logp).scatter_add_(1, self.values[index], weights)
        return torch.log(((1 - self.weight) * logp.exp() + self.weight * knn).clamp_min(1e-20))


@torch.no_grad()
def datastore(model: CopyModel, examples, vocab, config) -> tuple[torch.Tensor, torch.Tensor]:
    encoded = encode_all(examples, vocab, config.max_src_len, config.max_tgt_len)
    collate = collator_for(vocab)
    keys, values = [], []
    for start in range(0, len(encoded), 128):
        batch = collate(encoded[start:start + 128])
        hidden, _, _, _ = model.decode(model.encode(batch.src), batch.tgt_in)
        flat = hidden.reshape(-1, hidden.size(-1)).index_select(0, batch.tgt_index)
        target = batch.tgt_out.reshape(-1).index_select(0, batch.tgt_index)
        keep = target < len(vocab)
        keys.append(flat[keep].float())
        values.append(target[keep])
    return torch.cat(keys), torch.cat(values)


def score(model, examples, vocab, decoding) -> dict:
    outputs = predict(model, examples, vocab, decoding, "cpu", top_k=1)
    predictions = [o[0][0] if o else "" for o in outputs]
    result = compute_metrics(predictions, [e.answer for e in examples])
    result["mean_answer_tokens"] = sum(len(p.split()) for p in predictions) / len(predictions)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("data_dir")
    parser.add_argument("out")
    parser.add_argument("--settings", nargs="*", default=[f"{k}:{t}:{w}" for k in (8, 32) for t in ("1x", "4x")
                                                          for w in (0.1, 0.25, 0.4)])
    parser.add_argument("--beam-settings", nargs="*", default=[])
    parser.add_argument("--no-control", action="store_true", help="skip the decodings without the datastore")
    parser.add_argument("--pretrain-pairs", type=int, default=0,
                        help="also store the states of this many generated pretrain pairs (a seeded sample)")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    inner, vocab, config = load_model(args.checkpoint, "cpu")
    train = read_split(args.data_dir, config.lang, config.train_split, config.code_field)
    valid = read_split(args.data_dir, config.lang, config.valid_split, config.code_field)
    started = time.monotonic()
    stored = list(train)
    if args.pretrain_pairs:
        import random

        generated = read_split(args.data_dir, config.lang, "pretrain", config.code_field)
        stored += random.Random(0).sample(generated, min(args.pretrain_pairs, len(generated)))
    keys, values = datastore(inner, stored, vocab, config)
    model = KnnCopy(inner, keys, values).eval()
    # the distance scale: the median squared distance of a stored state to its nearest other one
    sample = keys[torch.randperm(len(keys), generator=torch.Generator().manual_seed(0))[:2000]]
    second = []
    for chunk in sample.split(200):
        d = (chunk * chunk).sum(1, keepdim=True) - 2 * chunk @ keys.T + model.key_norms[None, :]
        second.append(d.topk(2, dim=1, largest=False).values[:, 1].clamp_min(0))
    scale = float(torch.cat(second).median())
    report = {"checkpoint": args.checkpoint, "datastore": len(keys), "pretrain_pairs": args.pretrain_pairs,
              "distance_scale": scale,
              "datastore_seconds": time.monotonic() - started, "greedy": [], "beam16_mbr": []}
    print(f"datastore {len(keys)} states, distance scale {scale:.3f}", flush=True)

    def configure(setting: str) -> dict:
        k, t, w = setting.split(":")
        model.k, model.weight = int(k), float(w)
        model.temperature = float(t[:-1]) * scale if t.endswith("x") else float(t)
        return {"setting": setting, "k": model.k, "temperature": model.temperature, "lambda": model.weight}

    greedy = DecodeConfig.from_config(config, beam_size=1, rerank="score")
    control = [] if args.no_control else ["0:1:0"]
    for setting in [*control, *args.settings]:
        started = time.monotonic()
        row = {**configure(setting), **score(model, valid, vocab, greedy), "seconds": time.monotonic() - started}
        report["greedy"].append(row)
        print(json.dumps(row), flush=True)
    for setting in [*control, *args.beam_settings]:
        for penalty in (0.5, 1.0, 1.5):
            started = time.monotonic()
            decoding = DecodeConfig.from_config(config, beam_size=16, length_penalty=penalty, rerank="mbr")
            row = {**configure(setting), "length_penalty": penalty, **score(model, valid, vocab, decoding),
                   "seconds": time.monotonic() - started}
            report["beam16_mbr"].append(row)
            print(json.dumps(row), flush=True)
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
