#!/usr/bin/env python3
"""Randomly initialised models of CodeT5-small's and CodeT5+ 220M's published shapes, saved with
save_pretrained, so that their cost (parameters, examples/s, peak memory) is measured without the hub:

    python recipes/codet5_shapes.py OUT_DIR [--words DATA_DIR]
    codeqa bench --config codet5_small --set pretrained=OUT_DIR/codet5-small-shape --data-dir D

The tokenizer is a stand-in: byte-level BPE of the real vocabulary size (32,100) trained on the words of
DATA_DIR's train split (default: the standard library's docstrings, through `codeqa make-dataset`), so
that sequence lengths are close to the real tokenizer's. The weights are random: answer quality is not
measured this way. Shapes (T5 layout): CodeT5-small d_model 512, d_ff 2048, 6 + 6 layers, 8 heads;
CodeT5+ 220M d_model 768, d_ff 3072, 12 + 12 layers, 12 heads; both with a 32,100-token vocabulary.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

SHAPES = {
    "codet5-small-shape": {"d_model": 512, "d_ff": 2048, "num_layers": 6, "num_decoder_layers": 6, "num_heads": 8},
    "codet5p-220m-shape": {"d_model": 768, "d_ff": 3072, "num_layers": 12, "num_decoder_layers": 12,
                           "num_heads": 12},
}
VOCAB_SIZE = 32100


def stand_in_tokenizer(texts):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=["<pad>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    eos = tokenizer.token_to_id("</s>")
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                             special_tokens=[("</s>", eos)])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="where the two model folders go")
    parser.add_argument("--words", type=Path, help="a CodeQA-layout dataset whose train split trains the tokenizer")
    args = parser.parse_args()
    from transformers import T5Config, T5ForConditionalGeneration

    from codeqa.data import read_split

    with tempfile.TemporaryDirectory() as tmp:
        words = args.words
        if words is None:
            words = Path(tmp) / "stdlib"
            subprocess.run([sys.executable, "-m", "codeqa", "-q", "make-dataset", "--source", "stdlib", "--out",
                            str(words)], check=True, stdout=subprocess.DEVNULL)
        texts = [text for e in read_split(words, "python", "train") for text in (e.question, e.code, e.answer)]
    tokenizer = stand_in_tokenizer(texts)
    for name, shape in SHAPES.items():
        folder = args.out / name
        config = T5Config(vocab_size=VOCAB_SIZE, d_kv=64, decoder_start_token_id=tokenizer.pad_token_id,
                          pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, **shape)
        model = T5ForConditionalGeneration(config)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        print(f"{folder}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
