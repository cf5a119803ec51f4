"""Greedy and beam search, predictions aligned with their split, `codeqa evaluate`."""

import pytest
import torch

from codeqa.batching import collator_for, encode_all
from codeqa.config import load_config
from codeqa.data import Example, read_split
from codeqa.decode import DecodeConfig, beam_search, greedy_search, predict, to_words
from codeqa.errors import CodeQAError
from codeqa.models import build_model
from codeqa.vocab import Vocab
from tests.conftest import TINY_ROWS, run_cli

EXAMPLES = [Example(q, c, a) for q, c, a in TINY_ROWS]


def _model(kind: str = "transformer", seed: int = 0):
    torch.manual_seed(seed)
    vocab = Vocab.build(EXAMPLES[:3])  # leaves many source words out of the vocabulary: copy is needed
    config = load_config("quick" if kind == "transformer" else "paper_lstm", ["emb_dim=16", "hidden=24"])
    return build_model(config.model_settings(), len(vocab), vocab.pad_id, vocab.sep_id).eval(), vocab


def _batch(vocab):
    return collator_for(vocab)(encode_all(EXAMPLES, vocab))


def test_beam_one_equals_greedy():
    for kind in ("transformer", "pointer_lstm"):
        model, vocab = _model(kind)
        batch = _batch(vocab)
        greedy = greedy_search(model, batch, vocab, max_len=12)
        beam = beam_search(model, batch, vocab, beam_size=1, max_len=12)
        assert [g.tokens for g in greedy] == [b[0].tokens for b in beam], kind


def _repeats(tokens: list[int], n: int) -> bool:
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return len(grams) != len(set(grams))


@pytest.mark.parametrize("kind", ["transformer", "pointer_lstm"])
def test_no_repeat_ngram_size_keeps_every_answer_free_of_repeats(kind):
    model, vocab = _model(kind)
    batch = _batch(vocab)
    free = greedy_search(model, batch, vocab, max_len=12)
    assert any(_repeats(h.tokens, 1) for h in free)  # an untrained model repeats itself: the ban has work to do
    for n in (1, 2):
        greedy = greedy_search(model, batch, vocab, max_len=12, no_repeat_ngram_size=n)
        beams = beam_search(model, batch, vocab, beam_size=4, max_len=12, no_repeat_ngram_size=n)
        assert [g.tokens for g in greedy] == [b[0].tokens for b in
                                              beam_search(model, batch, vocab, 1, 12, no_repeat_ngram_size=n)]
        for hyp in greedy + [h for options in beams for h in options]:
            assert not _repeats(hyp.tokens, n), (n, hyp.tokens)
    bigram_free = greedy_search(model, batch, vocab, max_len=12, no_repeat_ngram_size=2)
    assert any(_repeats(h.tokens, 1) for h in bigram_free)  # n = 2 still lets a word come back


def test_no_repeat_ngram_size_is_checked_and_reaches_predict():
    with pytest.raises(CodeQAError, match="no_repeat_ngram_size"):
        DecodeConfig(no_repeat_ngram_size=-1).validate()
    with pytest.raises(CodeQAError, match="--set no_repeat_ngram_size"):
        load_config("small", ["no_repeat_ngram_size=-2"])
    model, vocab = _model()
    for n in (0, 1):
        answers = predict(model, EXAMPLES, vocab, DecodeConfig(beam_size=3, max_len=12, no_repeat_ngram_size=n))
        words = [a[0][0].split() for a in answers]
        assert any(len(w) != len(set(w)) for w in words) == (n == 0)


def _briefly_trained(steps: int):
    """A model fitted for a few steps on the examples: unlike a fresh one, it ends some answers early."""
    model, vocab = _model()
    batch = _batch(vocab)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        loss, n = model.loss(batch)
        optimizer.zero_grad()
        (loss / n).backward()
        optimizer.step()
    return model.eval(), vocab


def test_beams_sorted_and_at_least_as_good_as_greedy():
    model, vocab = _briefly_trained(steps=20)
    batch = _batch(vocab)
    beams = beam_search(model, batch, vocab, beam_size=4, max_len=12, length_penalty=0.0)
    greedy = greedy_search(model, batch, vocab, max_len=12)
    finished = [g for g in greedy if len(g.tokens) < 12]
    assert 0 < len(finished) < len(greedy)  # the comparison below runs, on answers of several lengths
    for options, g in zip(beams, greedy):
        assert len(options) == 4
        scores = [h.score for h in options]
        assert scores == sorted(scores, reverse=True)
        assert len({tuple(h.tokens) for h in options}) == 4  # distinct hypotheses
        if len(g.tokens) < 12:  # greedy finished: beam (unnormalised) must find one at least as likely
            assert scores[0] >= g.score - 1e-4


def test_copy_returns_out_of_vocabulary_source_words():
    model, vocab = _model()
    with torch.no_grad():
        model.gate.bias.fill_(-30.0)  # p_gen ≈ 0: the model can only copy
    encoded = encode_all(EXAMPLES, vocab)
    batch = collator_for(vocab)(encoded)
    for hyp, enc, ex in zip(greedy_search(model, batch, vocab, max_len=5), encoded, EXAMPLES):
        words = to_words(hyp, vocab, enc.oovs)
        source = set(ex.question.split()) | set(ex.code.split())
        assert words and set(words) <= source
    assert any(set(to_words(h, vocab, e.oovs)) & set(e.oovs)
               for h, e in zip(greedy_search(model, batch, vocab, max_len=5), encoded))


def test_predict_keeps_input_order():
    model, vocab = _model()
    decoding = DecodeConfig(beam_size=3, max_len=8)
    together = predict(model, EXAMPLES, vocab, decoding.replace(batch_size=4))
    alone = [predict(model, [ex], vocab, decoding.replace(batch_size=1))[0] for ex in EXAMPLES]
    assert [t[0][0] for t in together] == [a[0][0] for a in alone]


def test_cli_evaluate_writes_aligned_predictions_and_metrics(tiny_data, tmp_path):
    out = tmp_path / "run"
    result = run_cli("train", "--config", "quick", "--data-dir", str(tiny_data), "--out-dir", str(out),
                     "--set", "epochs=1", "--set", "batch_size=16")
    assert result.returncode == 0, result.stderr
    preds, metrics = tmp_path / "preds.txt", tmp_path / "metrics.json"
    result = run_cli("evaluate", "--checkpoint", str(out / "best_model_python.pt"), "--data-dir", str(tiny_data),
                     "--split", "dev", "--beam", "2", "--length-penalty", "0.5", "--rerank", "mbr", "--out", str(preds),
                     "--metrics-out", str(metrics))
    assert result.returncode == 0, result.stderr
    assert "token F1" in result.stdout and "ROUGE-L" in result.stdout
    lines = preds.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) - 1 == len(read_split(tiny_data, "python", "dev"))
    import json

    saved = json.loads(metrics.read_text())
    assert saved["overall"]["count"] == 6 and saved["beam_size"] == 2 and saved["rerank"] == "mbr"
    assert saved["length_penalty"] == 0.5
    assert set(saved["by_question_type"]) >= {"what", "how"}


def test_cli_evaluate_refuses_non_checkpoint(tiny_data, tmp_path):
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"not a checkpoint")
    result = run_cli("evaluate", "--checkpoint", str(bogus), "--data-dir", str(tiny_data), "--split", "dev",
                     "--out", str(tmp_path / "p.txt"))
    assert result.returncode == 1 and "model.pt: not a readable codeqa checkpoint" in result.stderr
    assert not (tmp_path / "p.txt").exists()


def test_cli_answer_on_a_small_function(tiny_data, tmp_path):
    out = tmp_path / "run"
    result = run_cli("train", "--config", "quick", "--data-dir", str(tiny_data), "--out-dir", str(out),
                     "--set", "epochs=1", "--set", "batch_size=16")
    assert result.returncode == 0, result.stderr
    source = tmp_path / "add.py"
    source.write_text("def add_numbers(a, b):\n    '''Add.'''\n    return a + b\n", encoding="utf-8")
    model = str(out / "best_model_python.pt")
    result = run_cli("answer", "--checkpoint", model, "--code", str(source), "--question", "What does the code return?")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1 and result.stdout.strip()
    result = run_cli("answer", "--checkpoint", model, "--code-text", "def f(x):\n    return x * 2",
                     "--question", "What does the code return ?", "--top-k", "3")
    assert result.returncode == 0, result.stderr
    scores = [float(line.split()[0]) for line in result.stdout.splitlines()]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    broken = tmp_path / "broken.py"
    broken.write_text("x = 1\ndef f(:\n", encoding="utf-8")
    result = run_cli("answer", "--checkpoint", model, "--code", str(broken), "--question", "What ?")
    assert result.returncode == 1 and f"{broken}:2: not valid Python" in result.stderr


def test_code_fields_match_training_format():
    from codeqa.answer import code_fields

    code, original = code_fields("def add_numbers(a, b):\n    '''Return the sum.'''\n    return a + b\n")
    assert (code, original) == ("def add numbers a b return a + b", "def add_numbers a b return a + b")


@pytest.mark.slow
def test_cli_bench_prints_one_json_line(tiny_data, tmp_path):
    import json

    out = tmp_path / "run"
    assert run_cli("train", "--config", "quick", "--data-dir", str(tiny_data), "--out-dir", str(out),
                   "--set", "epochs=1", "--set", "batch_size=16", "--set", "beam_size=4",
                   "--set", "rerank=mbr").returncode == 0
    result = run_cli("bench", "--config", "quick", "--data-dir", str(tiny_data), "--steps", "2",
                     "--decode-examples", "8", "--set", "batch_size=8",
                     "--checkpoint", str(out / "best_model_python.pt"), "--profile", str(tmp_path / "profile.txt"))
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout.strip().splitlines()[-1])
    assert row["dtype"] == "fp32" and row["batch_size"] == 8 and row["steps"] == 2
    for key in ("train_examples_per_s", "train_tokens_per_s", "decode_greedy_examples_per_s",
                "decode_beam4_examples_per_s", "decode_beam4_mbr_examples_per_s"):  # the checkpoint's rerank
        assert row[key] > 0, key
    profile = (tmp_path / "profile.txt").read_text()
    assert profile.startswith("20 training steps on cpu") and "aten::" in profile and "Self CPU" in profile


@pytest.mark.slow
def test_cli_bench_times_training_alone_with_decode_examples_0(tiny_data):
    import json

    result = run_cli("bench", "--config", "quick", "--data-dir", str(tiny_data), "--steps", "3",
                     "--decode-examples", "0", "--set", "batch_size=8")
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout.strip().splitlines()[-1])
    assert row["steps"] == 3 and row["warmup_steps"] == 10 and row["warmup_seconds"] >= 0  # eager: 10 by default
    assert row["train_examples_per_s"] > 0 and "compiled_graphs" not in row
    assert not any(key.startswith("decode") for key in row)
