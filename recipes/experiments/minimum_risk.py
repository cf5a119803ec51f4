"""Experiment (reverted): minimum-risk fine-tuning on token F1, from a fine-tuned codeqa checkpoint.

Each batch: beam search (no gradient) gives up to BEAM candidates per example; with the reference they form
the candidate set; the loss is (1 - w) * the expected risk (1 - token F1 against the reference) under the
model's distribution renormalised over the set, plus w * the reference's token NLL (label smoothing as
in training). The source is encoded once per example. After each epoch the 1,000 held-out examples are
decoded greedily and with beam 16 + MBR.

Usage: PYTHONPATH=. python recipes/experiments/minimum_risk.py CKPT DATA_DIR OUT_DIR [epochs] [lr] [w] [beam] [seed]
"""
import json
import random
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from codeqa import checkpoint
from codeqa.batching import Encoded, collator_for, encode_all
from codeqa.data import read_split
from codeqa.decode import Hypothesis, beam_search, predict, to_words
from codeqa.metrics import compute_metrics, token_f1

torch.set_num_threads(2)
ckpt, data_dir, out_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
lr = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-4
nll_weight = float(sys.argv[6]) if len(sys.argv) > 6 else 0.3
beam = int(sys.argv[7]) if len(sys.argv) > 7 else 8
seed = int(sys.argv[8]) if len(sys.argv) > 8 else 1
out_dir.mkdir(parents=True, exist_ok=True)
random.seed(seed)
torch.manual_seed(seed)

state = checkpoint.load(ckpt)
model, vocab, config = checkpoint.load_model(ckpt)
train = read_split(data_dir, "python", "train")
dev = read_split(data_dir, "python", "dev")
enc = encode_all(train, vocab, config.max_src_len, config.max_tgt_len)
collate = collator_for(vocab)
opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)


def seq_logprob(batch, rows=None):
    """Per-row summed log-probability of tgt_out under the copy mixture (with grad). With ``rows``, the
    source batch is encoded once and row r of the targets reads source row rows[r]."""
    memory = model.encode(batch.src_enc)
    src_ext_all = batch.src_ext
    if rows is not None:
        memory, _ = model.reorder(memory, None, rows)
        src_ext_all = src_ext_all.index_select(0, rows)
    hidden, attn, p_gen, _ = model.decode(memory, batch.tgt_in)
    nrows, width = batch.tgt_out.shape
    index = batch.tgt_index
    target = batch.tgt_out.reshape(-1).index_select(0, index)
    logits = model.generator(hidden.reshape(nrows * width, -1).index_select(0, index)).float()
    log_probs = F.log_softmax(logits, dim=-1)
    in_vocab = target < model.vocab_size
    p_vocab = log_probs.gather(1, target.clamp(max=model.vocab_size - 1).unsqueeze(1)).squeeze(1).exp() * in_vocab
    row_of = torch.div(index, width, rounding_mode="floor")
    src_ext = src_ext_all.index_select(0, row_of)
    copy_attn = attn.reshape(nrows * width, -1).index_select(0, index).float()
    p_copy = (copy_attn * (src_ext == target.unsqueeze(1))).sum(-1)
    gen = p_gen.reshape(-1).index_select(0, index).float()
    logp = torch.log((gen * p_vocab + (1 - gen) * p_copy).clamp_min(1e-12))
    smooth = log_probs.mean(-1)
    per_row = torch.zeros(nrows).index_add(0, row_of, logp)
    return per_row, logp, smooth, row_of


def evaluate(tag):
    t = time.time()
    out = {}
    for name, kw in (("greedy", {"beam_size": 1}), ("b16mbr", {"beam_size": 16, "rerank": "mbr"})):
        preds = [r[0][0] if r else "" for r in predict(model, dev, vocab, max_src_len=config.max_src_len,
                                                       max_tgt_len=config.max_tgt_len, batch_size=64, **kw)]
        m = compute_metrics(preds, [e.answer for e in dev])
        out[name] = m
        (out_dir / f"dev_{tag}_{name}.txt").write_text("\n".join(preds) + "\n")
    print(tag, {k: {x: round(v[x], 2) for x in ("f1", "rouge_l", "exact_match", "bleu") if x in v} for k, v in out.items()},
          f"{time.time() - t:.0f}s", flush=True)
    return out


history = []
B = 32
for epoch in range(1, epochs + 1):
    order = list(range(len(enc)))
    random.shuffle(order)
    t0, tot_risk, tot_n = time.time(), 0.0, 0
    for bi, start in enumerate(range(0, len(order), B)):
        items = [enc[i] for i in order[start:start + B]]
        batch = collate(items)
        model.eval()
        with torch.no_grad():
            hyps = beam_search(model, batch, vocab, beam, config.max_tgt_len, 1.0)
        model.train()
        cand_items, risks, groups, ref_flags = [], [], [], []
        for i, (it, hs) in enumerate(zip(items, hyps)):
            ref_tokens = it.tgt_ext[:-1]
            ref_words = " ".join(train[order[start + i]].answer.split())
            seen = {tuple(ref_tokens)}
            cands = [ref_tokens]
            for h in hs:
                toks = [t for t in h.tokens if t != vocab.eos_id]
                if tuple(toks) not in seen and toks:
                    seen.add(tuple(toks))
                    cands.append(toks)
            for c in cands:
                words = " ".join(to_words(Hypothesis(c, 0.0), vocab, it.oovs))
                cand_items.append(Encoded(it.src, it.src_ext, c + [vocab.eos_id], it.oovs))
                risks.append(1.0 - token_f1(words, ref_words) / 100.0)
                groups.append(i)
                ref_flags.append(c is ref_tokens)
        cbatch = collate(cand_items)
        cbatch.src_enc, cbatch.src_ext = batch.src, batch.src_ext
        groups_t = torch.tensor(groups)
        per_row, logp, smooth, row_of = seq_logprob(cbatch, groups_t)
        risks_t = torch.tensor(risks)
        # softmax within each example's candidate set
        mx = torch.full((len(items),), -1e9).scatter_reduce(0, groups_t, per_row.detach(), "amax")
        w = torch.exp(per_row - mx[groups_t])
        z = torch.zeros(len(items)).index_add(0, groups_t, w)
        q = w / z[groups_t]
        risk_loss = (q * risks_t).sum() / len(items)
        # token NLL of the references (each example's first candidate), label smoothing as in training
        is_ref = torch.tensor(ref_flags)[row_of]
        ls = config.label_smoothing
        nll = (-(1 - ls) * logp[is_ref] - ls * smooth[is_ref]).mean()
        loss = (1 - nll_weight) * risk_loss + nll_weight * nll
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tot_risk += float((q * risks_t).sum().detach())
        tot_n += len(items)
        if bi % 20 == 0:
            print(f"epoch {epoch} batch {bi} expected risk {tot_risk / tot_n:.3f} {time.time() - t0:.0f}s", flush=True)
    print(f"epoch {epoch} done {time.time() - t0:.0f}s expected risk {tot_risk / tot_n:.3f}", flush=True)
    history.append({"epoch": epoch, "train_expected_risk": tot_risk / tot_n, **evaluate(f"e{epoch}")})
    (out_dir / "history.json").write_text(json.dumps(history, indent=1))
    checkpoint.save(out_dir / f"mrt_epoch{epoch}.pt", {**state, "model": model.state_dict()})
