import json

import pytest

from codeqa.data import Example, read_split
from codeqa.errors import CodeQAError
from codeqa.vocab import SPECIALS, Vocab
from tests.conftest import run_cli


def test_build_order_min_freq_and_max_size():
    examples = [Example("What is x ?", "def f x", "Yes"), Example("What is y ?", "def g y", "x")]
    vocab = Vocab.build(examples)
    assert vocab.itos[: len(SPECIALS)] == list(SPECIALS)
    assert vocab.itos[len(SPECIALS):len(SPECIALS) + 5] == ["x", "?", "What", "def", "is"]  # by count, then alphabetical
    assert "Yes" in vocab.stoi and "yes" not in vocab.stoi  # case kept
    assert "g" not in Vocab.build(examples, min_freq=2).stoi and "x" in Vocab.build(examples, min_freq=2).stoi
    assert len(Vocab.build(examples, max_size=7)) == 7
    assert vocab.encode(["What", "never-seen"]) == [vocab.stoi["What"], vocab.unk_id]


def test_json_round_trip_and_no_pickle(tmp_path):
    vocab = Vocab.build([Example("What does the code return ?", "def f return 1", "the value")])
    path = tmp_path / "vocab.json"
    vocab.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "codeqa-vocab" and data["tokens"] == vocab.itos
    loaded = Vocab.load(path)
    assert loaded == vocab and loaded.fingerprint() == vocab.fingerprint()


def test_load_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CodeQAError, match="bad.json: not valid JSON"):
        Vocab.load(bad)
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(CodeQAError, match="not a codeqa vocabulary"):
        Vocab.load(bad)
    with pytest.raises(CodeQAError, match="vocabulary file not found"):
        Vocab.load(tmp_path / "missing.json")


def test_cli_build_vocab_from_train_split(tiny_data, tmp_path):
    out = tmp_path / "vocab.json"
    result = run_cli("build-vocab", "--data-dir", str(tiny_data), "--min-freq", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    vocab = Vocab.load(out)
    train = read_split(tiny_data, "python", "train")
    assert all(tok in vocab.stoi for ex in train for tok in ex.answer.split())


def test_real_dev_vocab_size(real_data_root, tmp_path):
    out = tmp_path / "vocab.json"
    result = run_cli("build-vocab", "--data-dir", str(real_data_root), "--split", "dev", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert 5000 < len(Vocab.load(out)) <= 50000


def test_subword_vocabulary_round_trips_words_and_loads_from_json(tmp_path):
    from codeqa.vocab import SubwordVocab, Vocab, build_vocab

    examples = [Example("What does the code return ?", "def get_names path return names", "the file names"),
                Example("What does the code create ?", "def make_list n return list range n", "a new list")] * 5
    vocab = build_vocab(examples, "bpe", min_freq=1, max_size=60)
    assert isinstance(vocab, SubwordVocab) and vocab.itos[: len(SPECIALS)] == list(SPECIALS) and len(vocab) <= 60
    words = "unseenword names".split()
    pieces = vocab.pieces([words])[0]
    assert len(pieces) > len(words) and any(p.startswith("##") for p in pieces)  # cut into known pieces
    assert vocab.words(pieces) == words
    path = tmp_path / "bpe.json"
    vocab.save(path)
    loaded = Vocab.load(path)
    assert loaded == vocab and loaded.fingerprint() == vocab.fingerprint()
    assert Vocab.from_state(vocab.to_state()) == vocab and Vocab.from_state(["<pad>", "<unk>", "<bos>", "<eos>",
                                                                             "<sep>"]) != vocab


def test_training_with_a_subword_vocabulary_answers_in_words(tiny_data, tmp_path):
    from codeqa import checkpoint
    from codeqa.config import load_config
    from codeqa.training import train

    out = tmp_path / "run"
    train(load_config("quick", ["epochs=1", "batch_size=16", "vocab_type=bpe", "max_vocab=80", "min_freq=1"]),
          tiny_data, out)
    state = checkpoint.load(out / "best_model_python.pt")
    assert state["vocab"]["kind"] == "bpe"
    model, vocab, config = checkpoint.load_model(out / "best_model_python.pt")
    assert vocab.kind == "bpe" and vocab.words(["ab", "##cd", "e"]) == ["abcd", "e"]
