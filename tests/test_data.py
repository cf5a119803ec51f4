import logging
import re
import shutil

import pytest

from codeqa.data import read_split
from codeqa.errors import CodeQAError
from tests.conftest import TINY_ROWS, run_cli, write_codeqa


def test_reads_real_dev_split(real_data_root):
    examples = read_split(real_data_root, "python", "dev")
    assert len(examples) == 7000
    assert examples[0].question == "Does it have any filter rules ?"
    assert examples[0].answer == "No"
    assert examples[2].answer == "ranges with a length of more than max_range items"
    assert examples[1].code.startswith("def safe range *args rng xrange *args")
    original = read_split(real_data_root, "python", "dev", code_field="code.original")
    assert original[1].code.startswith("def safe_range *args")
    assert [e.question for e in original] == [e.question for e in examples]


def test_last_line_without_newline_and_crlf(tmp_path):
    directory = write_codeqa(tmp_path, "dev", [("Q one ?", "c one", "a one"), ("Q two ?", "c two", "a two")])
    (directory / "dev.answer").write_bytes(b"a one\r\na two\r\n")
    examples = read_split(tmp_path, "python", "dev")
    assert [e.answer for e in examples] == ["a one", "a two"]


def test_form_feed_inside_code_does_not_split_lines(tmp_path):
    write_codeqa(tmp_path, "dev", [("Q ?", "a\x0cb \u2028 c", "x"), ("Q2 ?", "d", "y")])
    assert len(read_split(tmp_path, "python", "dev")) == 2


def test_missing_split_names_folder_and_found_splits(tiny_data):
    with pytest.raises(CodeQAError, match=r"python/test: split folder not found.*splits found there: dev, train"):
        read_split(tiny_data, "python", "test")


def test_missing_file_is_named(tiny_data):
    (tiny_data / "python" / "dev" / "dev.answer").unlink()
    with pytest.raises(CodeQAError, match=r"dev\.answer: file not found"):
        read_split(tiny_data, "python", "dev")


def test_line_count_mismatch_names_each_count(tiny_data):
    path = tiny_data / "python" / "dev" / "dev.answer"
    path.write_text("\n".join(path.read_text().split("\n")[:-1]))
    with pytest.raises(CodeQAError) as err:
        read_split(tiny_data, "python", "dev")
    message = str(err.value)
    assert "dev.question has 6 lines" in message and "dev.answer has 5 lines" in message


def test_non_utf8_names_file_and_line(tiny_data):
    path = tiny_data / "python" / "dev" / "dev.code"
    lines = path.read_bytes().split(b"\n")
    lines[3] = b"def broken \xff\xfe"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(CodeQAError, match=r"dev\.code:4: bytes that are not UTF-8"):
        read_split(tiny_data, "python", "dev")


def test_empty_split(tmp_path):
    write_codeqa(tmp_path, "dev", [])
    with pytest.raises(CodeQAError, match="is empty"):
        read_split(tmp_path, "python", "dev")


def test_empty_question_or_answer_dropped_with_one_warning(tmp_path, caplog):
    write_codeqa(tmp_path, "dev", [("Q ?", "c", "a"), ("", "c", "a"), ("Q ?", "c", "  "), ("Q3 ?", "c", "b")])
    with caplog.at_level(logging.WARNING, logger="codeqa"):
        examples = read_split(tmp_path, "python", "dev")
    assert [e.answer for e in examples] == ["a", "b"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "dropped 2 example(s)" in warnings[0].getMessage()


def test_cli_build_vocab_refuses_misaligned_real_copy(real_data_root, tmp_path):
    """The issue's acceptance check: one answer line removed → non-zero exit naming both counts."""
    copy = tmp_path / "codeqa"
    shutil.copytree(real_data_root / "python" / "dev", copy / "python" / "dev")
    answers = (copy / "python" / "dev" / "dev.answer").read_text(encoding="utf-8").split("\n")
    del answers[100]
    (copy / "python" / "dev" / "dev.answer").write_text("\n".join(answers), encoding="utf-8")
    out = tmp_path / "vocab.json"
    result = run_cli("build-vocab", "--data-dir", str(copy), "--split", "dev", "--out", str(out))
    assert result.returncode == 1
    assert "dev.question has 7000 lines" in result.stderr and "dev.answer has 6999 lines" in result.stderr
    assert not out.exists()


def test_cli_bad_input_exit_codes(tiny_data, tmp_path):
    out = tmp_path / "v.json"
    result = run_cli("build-vocab", "--data-dir", str(tiny_data), "--split", "nope", "--out", str(out))
    assert result.returncode == 1 and "error:" in result.stderr and "python/nope" in result.stderr
    assert not out.exists()


def test_a_byte_order_mark_is_dropped_and_a_nul_byte_is_named(tmp_path):
    directory = write_codeqa(tmp_path, "train", TINY_ROWS)
    question = directory / "train.question"
    question.write_bytes(b"\xef\xbb\xbf" + question.read_bytes())
    examples = read_split(tmp_path, "python", "train")
    assert examples[0].question == TINY_ROWS[0][0]  # not '\ufeffWhat'
    lines = question.read_text(encoding="utf-8-sig").split("\n")
    lines[2] = lines[2].replace("code", "co\x00de")
    question.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(CodeQAError, match=rf"{re.escape(str(question))}:3: a NUL byte"):
        read_split(tmp_path, "python", "train")
