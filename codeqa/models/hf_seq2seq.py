"""``model: hf_seq2seq``: a pretrained encoder-decoder from Hugging Face ``transformers`` (CodeT5, CodeT5+),
fine-tuned and decoded by the same Trainer, checkpoints and decoding grid as codeqa's own models.

``pretrained`` is a hub name or a folder in the ``save_pretrained`` layout; it is read once, when training
starts. A codeqa checkpoint then carries the weights, the model's configuration and the tokenizer's files,
so it evaluates and answers with neither the hub nor the folder. ``transformers`` is imported only here
(``pip install 'codeqa[hf]'``).
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from codeqa.errors import CodeQAError

KIND = "hf"
IGNORE = -100  # label positions the loss skips (padding)


def _transformers():
    try:
        import transformers
    except ImportError:
        raise CodeQAError("model hf_seq2seq needs the transformers library: pip install 'codeqa[hf]'") from None
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def _unreachable(name: str, err: Exception) -> CodeQAError:
    if Path(name).exists():
        return CodeQAError(f"{name}: not a model folder in the save_pretrained layout ({str(err).splitlines()[0]})")
    return CodeQAError(f"cannot reach the Hugging Face hub for {name}: turn Internet on in the notebook "
                       "(codeqa kaggle run --internet), or give a folder made by save_pretrained "
                       f"(--set pretrained=DIR) [{type(err).__name__}]")


def check_pretrained(name: str) -> None:
    """Fail with one line, now, when ``name`` is neither a model folder nor reachable on the hub."""
    transformers = _transformers()
    try:
        transformers.AutoConfig.from_pretrained(name)
    except Exception as err:  # noqa: BLE001 — network, missing files, bad JSON: all say the same to the user
        raise _unreachable(name, err) from None


# ---------------------------------------------------------------------------------------- the tokenizer
@dataclass
class HFEncoded:
    src: list[int]  # input ids: question and code as a pair
    tgt: list[int]  # label ids: the answer, ending in the tokenizer's end token


@dataclass
class HFBatch:
    src: torch.Tensor  # (B, S) input ids
    mask: torch.Tensor  # (B, S) 1 for real tokens
    tgt_out: torch.Tensor  # (B, T) labels, IGNORE at padding

    @property
    def size(self) -> int:
        return self.src.size(0)

    def to(self, device, non_blocking: bool = False) -> HFBatch:
        return HFBatch(*(t.to(device, non_blocking=non_blocking) for t in (self.src, self.mask, self.tgt_out)))

    def pin_memory(self) -> HFBatch:
        return HFBatch(self.src.pin_memory(), self.mask.pin_memory(), self.tgt_out.pin_memory())


class HFCollator:
    """Pads encoded examples into an :class:`HFBatch` (picklable, for DataLoader workers)."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, items: list[HFEncoded]) -> HFBatch:
        width, height = max(len(i.src) for i in items), max(len(i.tgt) for i in items)
        src = torch.full((len(items), width), self.pad_id, dtype=torch.long)
        tgt = torch.full((len(items), height), IGNORE, dtype=torch.long)
        for row, item in enumerate(items):
            src[row, :len(item.src)] = torch.tensor(item.src)
            tgt[row, :len(item.tgt)] = torch.tensor(item.tgt)
        return HFBatch(src, (src != self.pad_id).long(), tgt)


class HFTokenizer:
    """The pretrained model's own tokenizer, in the place of a :class:`codeqa.vocab.Vocab`: it encodes the
    examples, collates them, turns generated ids back into answers, and travels inside checkpoints."""

    kind = KIND

    def __init__(self, tokenizer, files: dict[str, str]):
        self.tokenizer, self.files = tokenizer, files  # files: name → base64 of the saved tokenizer files
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.sep_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else self.pad_id

    @classmethod
    def from_pretrained(cls, name: str) -> HFTokenizer:
        transformers = _transformers()
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(name)
        except Exception as err:  # noqa: BLE001
            raise _unreachable(name, err) from None
        with tempfile.TemporaryDirectory() as tmp:
            tokenizer.save_pretrained(tmp)
            files = {p.name: base64.b64encode(p.read_bytes()).decode("ascii") for p in sorted(Path(tmp).iterdir())}
        return cls(tokenizer, files)

    def to_state(self) -> dict:
        return {"kind": KIND, "files": self.files}

    def save(self, path: str | Path) -> None:
        """``vocab.json`` of the run: the tokenizer's files, as a codeqa vocabulary file."""
        from codeqa.fileio import write_json
        from codeqa.vocab import FORMAT, VERSION

        write_json(path, {"format": FORMAT, "version": VERSION, **self.to_state()}, indent=None)

    @classmethod
    def from_state(cls, state: dict, source: str = "checkpoint") -> HFTokenizer:
        files = state.get("files")
        if not isinstance(files, dict) or not files:
            raise CodeQAError(f"{source}: a hf_seq2seq checkpoint without its tokenizer files")
        transformers = _transformers()
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in files.items():
                (Path(tmp) / Path(name).name).write_bytes(base64.b64decode(data))
            tokenizer = transformers.AutoTokenizer.from_pretrained(tmp)
        return cls(tokenizer, files)

    def __len__(self) -> int:
        return len(self.tokenizer)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HFTokenizer) and self.files == other.files

    def fingerprint(self) -> str:
        joined = "\n".join(f"{k}:{v}" for k, v in sorted(self.files.items()))
        return hashlib.sha256(joined.encode("ascii")).hexdigest()[:16]

    def encode_all(self, examples, max_src_len: int, max_tgt_len: int) -> list[HFEncoded]:
        sources = self.tokenizer([e.question for e in examples], [e.code for e in examples], truncation="only_second",
                                 max_length=max_src_len)["input_ids"]
        targets = self.tokenizer(text_target=[e.answer for e in examples], truncation=True,
                                 max_length=max_tgt_len)["input_ids"]
        return [HFEncoded(s, t) for s, t in zip(sources, targets)]

    def collator(self, device=None) -> HFCollator:
        return HFCollator(self.pad_id)

    def decode(self, ids: list[list[int]]) -> list[str]:
        """Generated ids → answers in CodeQA's form: whitespace-separated words."""
        return [" ".join(text.split()) for text in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]


# ---------------------------------------------------------------------------------------- the model
class HFSeq2Seq(nn.Module):
    """A ``transformers`` encoder-decoder behind codeqa's training interface: ``forward(batch)`` gives the
    summed token loss and the token count, as :class:`codeqa.models.base.CopyModel` does."""

    def __init__(self, network):
        super().__init__()
        self.network = network

    @classmethod
    def build(cls, pretrained: str, model_config: dict | None = None) -> HFSeq2Seq:
        """From ``pretrained``'s weights, or, with ``model_config`` (from a checkpoint), an untrained network
        of that shape whose weights the checkpoint then supplies."""
        transformers = _transformers()
        if model_config is not None:
            values = {k: v for k, v in model_config.items() if k != "model_type"}
            network = transformers.AutoModelForSeq2SeqLM.from_config(
                transformers.AutoConfig.for_model(model_config["model_type"], **values))
        else:
            try:
                network = transformers.AutoModelForSeq2SeqLM.from_pretrained(pretrained, dtype=torch.float32)
            except Exception as err:  # noqa: BLE001
                raise _unreachable(pretrained, err) from None
        return cls(network)

    def model_config(self) -> dict[str, Any]:
        """The network's configuration as plain values: a checkpoint keeps it to rebuild the network."""
        return self.network.config.to_dict()

    def forward(self, batch: HFBatch, label_smoothing: float = 0.0) -> tuple[torch.Tensor, int]:
        logits = self.network(input_ids=batch.src, attention_mask=batch.mask, labels=batch.tgt_out).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), batch.tgt_out.reshape(-1),
                               ignore_index=IGNORE, reduction="sum", label_smoothing=label_smoothing)
        return loss, int((batch.tgt_out != IGNORE).sum())

    def loss(self, batch: HFBatch, label_smoothing: float = 0.0) -> tuple[torch.Tensor, int]:
        return self.forward(batch, label_smoothing)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @torch.no_grad()
    def predict(self, examples, tokenizer: HFTokenizer, decoding, device, top_k: int = 1,
                progress: bool = False) -> list[list[tuple[str, float]]]:
        """As :func:`codeqa.decode.predict`: up to ``top_k`` (answer, score) pairs per example, best first by
        ``decoding.rerank`` over the beam, through ``generate`` in length-sorted batches."""
        from codeqa.decode import length_sorted_batches
        from codeqa.rerank import rank

        was_training = self.training
        self.eval()
        encoded = tokenizer.encode_all(examples, decoding.max_src_len, decoding.max_len)
        results: list[list[tuple[str, float]]] = [[] for _ in examples]
        beam = decoding.beam_size
        for index, batch in length_sorted_batches(encoded, tokenizer.collator(), decoding.batch_for(device), device,
                                                  progress):
            out = self.network.generate(input_ids=batch.src, attention_mask=batch.mask, num_beams=beam,
                                        num_return_sequences=beam, length_penalty=decoding.length_penalty,
                                        max_new_tokens=decoding.max_len, do_sample=False,
                                        no_repeat_ngram_size=decoding.no_repeat_ngram_size,
                                        output_scores=beam > 1, return_dict_in_generate=True)
            answers = tokenizer.decode(out.sequences.tolist())
            scores = out.sequences_scores.tolist() if beam > 1 else [0.0] * len(answers)
            for row, i in enumerate(index):
                options = list(zip(answers[row * beam:(row + 1) * beam], scores[row * beam:(row + 1) * beam]))
                pool = options if decoding.rerank != "score" else options[:top_k]
                results[i] = rank(pool, decoding.rerank)[:top_k]
        self.train(was_training)
        return results
