import torch

from codeqa.batching import (
    Collator,
    LengthGroupedSampler,
    collator_for,
    encode_all,
    encode_example,
    padding_fraction,
)
from codeqa.data import Example, read_split
from codeqa.vocab import Vocab


def _vocab():
    return Vocab.build([Example("What does the code return ?", "def f a b return a", "the sum")])


def test_encode_copies_oov_source_words_into_target():
    vocab = _vocab()
    enc = encode_example(Example("What does the code return ?", "def g zeta return zeta", "zeta and omega"),
                         vocab, max_src_len=256, max_tgt_len=30)
    assert enc.oovs == ["g", "zeta"]
    base = len(vocab)
    assert enc.src[6] == vocab.sep_id
    assert enc.src_ext[9] == base + 1 and enc.src[9] == vocab.unk_id and enc.src_ext[8] == base
    assert enc.tgt_ext == [base + 1, vocab.unk_id, vocab.unk_id, vocab.eos_id]  # omega, and: not in source


def test_truncation_lengths():
    vocab = _vocab()
    ex = Example("What ?", " ".join(["tok"] * 400), " ".join(["the"] * 50))
    enc = encode_example(ex, vocab, max_src_len=256, max_tgt_len=30)
    assert len(enc.src) == 256 and len(enc.tgt_ext) == 30 and enc.tgt_ext[-1] == vocab.eos_id


def test_batch_shapes_and_teacher_forcing_inputs():
    vocab = _vocab()
    items = encode_all([Example("What ?", "def zeta", "zeta"), Example("What does the code return ?",
                                                                       "def f a b return a", "the sum")], vocab)
    assert collator_for(vocab)(items).src.shape == (2, 13)  # on a CPU: as wide as the longest
    # a GPU's batches: widths padded to a multiple of 8 (13 source and 3 target positions at most)
    batch = collator_for(vocab, "cuda")(items)
    assert batch.src.shape == (2, 16) and batch.src_ext.shape == (2, 16)
    assert batch.tgt_in.shape == batch.tgt_out.shape == (2, 8)
    assert batch.tgt_in[0].tolist() == [vocab.bos_id, vocab.unk_id] + [0] * 6  # copied OOV fed back as <unk>
    assert batch.tgt_out[0].tolist() == [len(vocab), vocab.eos_id] + [0] * 6
    assert batch.tgt_index.tolist() == [0, 1, 8, 9, 10]  # the real target positions, row after row
    assert batch.n_oov == 1 and batch.oovs[1] == []
    assert isinstance(collator_for(vocab), Collator)


def test_sampler_covers_each_index_once_and_splits_ranks():
    lengths = [i % 37 for i in range(1000)]
    sampler = LengthGroupedSampler(lengths, batch_size=32, seed=1)
    seen = sorted(i for batch in sampler for i in batch)
    assert seen == list(range(1000)) and len(sampler) == len(list(sampler))
    ranks = [list(LengthGroupedSampler(lengths, 32, seed=1, num_replicas=2, rank=r)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1])
    assert not {i for b in ranks[0] for i in b} & {i for b in ranks[1] for i in b}
    sampler.set_epoch(1)
    assert list(sampler) != list(LengthGroupedSampler(lengths, 32, seed=1))


def test_padding_is_small_on_real_data(real_data_root):
    examples = read_split(real_data_root, "python", "dev")
    vocab = Vocab.build(examples, min_freq=2)
    encoded = encode_all(examples, vocab)
    collate = collator_for(vocab)
    lengths = [len(e.src) for e in encoded]
    grouped = [collate([encoded[i] for i in b]) for b in LengthGroupedSampler(lengths, 64, seed=0)]
    random_order = [collate(encoded[i:i + 64]) for i in range(0, len(encoded), 64)]
    grouped_pad, random_pad = padding_fraction(grouped), padding_fraction(random_order)
    print(f"padding fraction: length-grouped {grouped_pad:.3f}, unsorted {random_pad:.3f}")
    assert grouped_pad < 0.08 and random_pad > 0.5
    assert max(b.src.size(1) for b in grouped) <= 256
    assert all(b.src.dtype == torch.long for b in grouped)


def test_sampler_length_matches_its_batches_for_every_setting():
    for n in (1, 31, 32, 33, 1000, 1601, 3200, 3201):
        for drop_last in (False, True):
            for replicas in (1, 2, 3):
                sampler = LengthGroupedSampler(list(range(n)), batch_size=32, drop_last=drop_last,
                                               num_replicas=replicas, rank=replicas - 1)
                assert len(sampler) == len(list(sampler)), (n, drop_last, replicas)


def test_collate_matches_a_plain_list_reference_on_real_shaped_batches():
    # the vectorised padding and teacher-forcing inputs against the obvious per-row construction
    import random

    vocab = _vocab()
    rng = random.Random(3)
    words = [w for w in vocab.stoi if not w.startswith("<")] + ["oov_a", "oov_b", "oov_c"]
    def text(most: int) -> str:
        return " ".join(rng.choices(words, k=rng.randint(1, most)))

    examples = [Example(text(6), text(40), text(8)) for _ in range(50)]
    items = encode_all(examples, vocab)
    for device, multiple in (("cpu", 1), ("cuda", 8)):
        batch = collator_for(vocab, device)(items)

        def padded(rows, multiple=multiple):
            width = -(-max(map(len, rows)) // multiple) * multiple
            return [r + [0] * (width - len(r)) for r in rows]

        tgt_in = [[vocab.bos_id] + [t if t < len(vocab) else vocab.unk_id for t in it.tgt_ext[:-1]] for it in items]
        assert batch.src.tolist() == padded([it.src for it in items])
        assert batch.src_ext.tolist() == padded([it.src_ext for it in items])
        assert batch.tgt_out.tolist() == padded([it.tgt_ext for it in items])
        assert batch.tgt_in.tolist() == padded(tgt_in)
        flat = [t for row in padded([it.tgt_ext for it in items]) for t in row]
        assert batch.tgt_index.tolist() == [i for i, t in enumerate(flat) if t]
        assert batch.src.dtype == batch.tgt_index.dtype == torch.long
