"""``codeqa make-dataset``: pairs from docstrings, CodeQA-style code, splits by function, atomic output."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from codeqa.codeformat import ParsedSource, split_words
from codeqa.data import read_lines, read_split
from codeqa.errors import CodeQAError
from codeqa.qtypes import QUESTION_TYPES, question_type
from codeqa.synth import dataset as dataset_module
from codeqa.synth.dataset import format_stats, make_dataset, parse_functions
from codeqa.synth.questions import qa_pairs
from codeqa.synth.sources import find_files, stdlib_root
from tests.conftest import run_cli, write_codeqa

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = FIXTURES / "sample_module.py"
FIELDS = ("question", "answer", "code", "code.original")

# Every documented function of the sample module that gives a question, in source order:
# (.code.original line, .code line, pairs). `only_a_docstring` (no code), `internal` (a docstring with no
# clause) and `undocumented` give nothing.
EXPECTED = [
    ("def add a b return a + b",
     "def add a b return a + b",
     [("What does the code return ?", "the sum of a and b")]),
    ('def read_config path encoding "utf-8" with open path encoding encoding as handle return handle read',
     'def read config path encoding "utf-8" with open path encoding encoding as handle return handle read',
     [("What does the code read from disk using the given encoding ?", "the configuration file"),
      ("In which direction does the code read the configuration file using the given encoding ?",
       "from disk"),
      ("How does the code read the configuration file from disk ?", "using the given encoding")]),
    (('@functools lru_cache maxsize 128 def parseHeaderLine line name _ value line partition " " '
      "return name strip lower value strip"),
     ('@functools lru cache maxsize 128 def parse Header Line line name value line partition " " '
      "return name strip lower value strip"),
     [("What does the code split into a name and a value ?", "an http header line"),
      ("What does the code split an http header line into ?", "a name and a value")]),
    ('def make_greeter name def greet punctuation " " return f"Hello {name}{punctuation}"return greet',
     'def make greeter name def greet punctuation " " return f"Hello {name}{punctuation}"return greet',
     [("What does the code create for the given name ?", "a greeting function"),
      ("For what purpose does the code create a greeting function ?", "for the given name")]),
    ('def greet punctuation " " return f"Hello {name}{punctuation}"',
     'def greet punctuation " " return f"Hello {name}{punctuation}"',
     [("What does the code greet by name ?", "the person"),
      ("How does the code greet the person ?", "by name")]),
    ("def get self key default None if key in self _items return self _items[key]return default",
     "def get self key default None if key in self items return self items[key]return default",
     [("What does the code return for key if it exists ?", "the cached value"),
      ("For what purpose does the code return the cached value if it exists ?", "for key"),
      ("When does the code return the cached value for key ?", "if it exists"),
      ("Is the disk touched ?", "No")]),
    ("def wait self event while not event is_set event wait 0 1",
     "def wait self event while not event is set event wait 0 1",
     [("Till when does the code wait because the worker needs it ?", "until the event is set"),
      ("Why does the code wait until the event is set ?", "because the worker needs it")]),
    ('def save self path with open path "w" as handle handle write repr self _items',
     'def save self path with open path "w" as handle handle write repr self items',
     [("What does the code save to a file in the cache directory so that they survive a restart ?",
       "the entries"),
      ("What does the code save the entries to in the cache directory so that they survive a restart ?",
       "a file"),
      ("Where does the code save the entries to a file so that they survive a restart ?",
       "in the cache directory"),
      ("For what purpose does the code save the entries to a file in the cache directory ?",
       "so that they survive a restart")]),
    ("def close self self _items {}",
     "def close self self items {}",
     [("When is the code called ?", "when the cache is closed")]),
]


def _many_functions(folder: Path, n: int = 40) -> Path:
    """A package of ``n`` documented functions, two pairs each, with distinct code."""
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(f'def f{i}(x):\n    """Return the value {i} of x using the cache {i}."""\n'
                   f"    return x + {i}\n\n\n" for i in range(n))
    (folder / "many.py").write_text(body, encoding="utf-8")
    return folder


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- pairs and code of a known module
def test_sample_module_gives_exactly_the_expected_pairs_and_code_lines():
    found = [(f.code_original, f.code, f.pairs) for f in parse_functions(SAMPLE.read_bytes(), str(SAMPLE), seed=0)]
    assert found == EXPECTED


def test_code_lines_drop_docstrings_comments_and_punctuation_like_codeqa():
    source = ParsedSource.parse(
        'class A:\n'
        '    @deco.attr\n'
        '    def getItems(self, data):\n'
        '        """Doc."""\n'
        '        # a comment\n'
        '        if data is None:\n'
        '            return\n'
        '        x = {"a b": 1,\n'
        '             "c_d": [1, 2]}\n'
        '        def inner():\n'
        '            "inner doc"\n'
        '            return 1\n'
        '        return unpack("i", data[106:114])[0] != x.__init__\n')
    node = source.tree.body[0].body[0]
    code, original = source.function_code(node)
    assert original == ('@deco attrdef getItems self data if data is None returnx {"ab" 1 "c_d" [1 2]}'
                        'def inner return 1return unpack "i" data[106 114] [0] x __init__')
    assert code == ('@deco attrdef get Items self data if data is None returnx {"ab" 1 "c d" [1 2]}'
                    'def inner return 1return unpack "i" data[106 114] [0] x init')


@pytest.mark.parametrize("identifier, words", [
    ("getHTTPResponse", "get HTTP Response"), ("file_path", "file path"), ("ipv6", "ipv 6"),
    ("__init__", "  init  "), ("RDFDatetime", "RDF Datetime"), ("plain", "plain"),
])
def test_split_words(identifier, words):
    assert split_words(identifier) == words


# ---------------------------------------------------------------- the question rules
@pytest.mark.parametrize("docstring, pairs", [
    ("Return the sum of a and b.", [("What does the code return ?", "the sum of a and b")]),
    ("Returns the directory component of a pathname",
     [("What does the code return ?", "the directory component of a pathname")]),
    ("Convert a unicode object to a string using the default encoding.",
     [("What does the code convert to a string using the default encoding ?", "a unicode object"),
      ("What does the code convert a unicode object to using the default encoding ?", "a string"),
      ("How does the code convert a unicode object to a string ?", "using the default encoding")]),
    ("Store the value in the table.",
     [("What does the code store in the table ?", "the value"),
      ("Where does the code store the value ?", "in the table")]),
    ("Return True if the path exists, False otherwise.",
     [("What does the code return if the path exists ?", "true"),
      ("When does the code return true ?", "if the path exists")]),
    ("Iterate over the files in this directory.",
     [("What does the code iterate over in this directory ?", "the files"),
      ("Where does the code iterate over the files ?", "in this directory")]),
    ("Recursively delete a directory tree.",
     [("What does the code delete ?", "a directory tree"),
      ("How does the code delete a directory tree ?", "recursively")]),
    ("Move the cursor onto the next line.",
     [("What does the code move onto the next line ?", "the cursor"),
      ("In which direction does the code move the cursor ?", "onto the next line")]),
    ("Copy data since the buffer is reused.",
     [("What does the code copy since the buffer is reused ?", "data"),
      ("Why does the code copy data ?", "since the buffer is reused")]),
    ("Each row represents a week.",
     [("What does each row represent ?", "a week"), ("What represents a week ?", "each row")]),
    ("Objects are compared by identity.",
     [("What are compared by identity ?", "objects"), ("How are objects compared ?", "by identity")]),
    ("This method can be used to wait for the lock.",
     [("For what purpose can this method be used ?", "to wait for the lock")]),
    ("The result is a string.", [("What is the result ?", "a string")]),
    ("Helper function to format and return a key.", [("What does the code format and return ?", "a key")]),
    ("Read the header, parse it and return the fields.",
     [("What does the code read ?", "the header"), ("What does the code return ?", "the fields")]),
    ("If the path is a directory, use rmdir() instead.",
     [("What does the code use instead if the path is a directory ?", "rmdir"),
      ("When does the code use rmdir instead ?", "if the path is a directory")]),
    ("foo(a, b) -> int\n\nReturn the ``foo`` of :class:`Bar` *x*.",
     [("What does the code return ?", "the foo of bar x")]),
    ("Does not follow symbolic links.", [("Does the code follow symbolic links ?", "No")]),
])
def test_question_rules(docstring, pairs):
    assert qa_pairs(docstring, yes_no_rate=0.0) == pairs


@pytest.mark.parametrize("docstring", [
    "", "Internal helper.", "Same as a - b.", "The base name of this object.", "See the docs.",
    ">>> add(1, 2)\n3", "Log normal distribution.", "Args:\n    x: the value",
])
def test_docstrings_without_a_clause_give_nothing(docstring):
    assert qa_pairs(docstring, yes_no_rate=1.0) == []


def test_yes_no_questions_invert_the_statement():
    pairs = qa_pairs("Return the sum of a and b.", yes_no_rate=1.0)
    assert pairs[0] == ("Does the code return the sum of a and b ?", "Yes")
    assert qa_pairs("The parser can read files.", yes_no_rate=1.0)[0] == ("Can the parser read files ?",
                                                                         "Yes")
    assert qa_pairs("Return the sum of a and b.", yes_no_rate=0.0)[0][1] != "Yes"


def test_questions_and_answers_have_the_codeqa_shape():
    pairs = [p for f in parse_functions(SAMPLE.read_bytes(), str(SAMPLE), seed=0) for p in f.pairs]
    pairs += qa_pairs("Return the sum of a and b.", yes_no_rate=1.0)
    for question, answer in pairs:
        assert question[0].isupper() and question.endswith(" ?") and question == " ".join(question.split())
        assert answer in ("Yes", "No") or answer == answer.lower()
        assert answer == " ".join(answer.split()) and "\n" not in question + answer


# ---------------------------------------------------------------- question types
@pytest.mark.parametrize("question, qtype", [
    ("What does the code return ?", "what"), ("What is the result ?", "what"),
    ("How does the code open a file ?", "how"), ("Where does the code write the data ?", "where"),
    ("When does the code return true ?", "when"),
    ("For what purpose does the code wait ?", "for what purpose"),
    ("Does the code return the sum ?", "yes-no"), ("Is the disk touched ?", "yes-no"),
    ("Can the parser read files ?", "yes-no"), ("Ca a range generate ranges ?", "yes-no"),
    ("In which direction does the code read data ?", "in which direction"),
    ("Why does the code copy data ?", "why"), ("Till when does the code wait ?", "till when"),
    ("By how much does the code scale it ?", "by how much"), ("Who converts it ?", "other"), ("", "other"),
])
def test_question_type(question, qtype):
    assert question_type(question) == qtype
    assert qtype in QUESTION_TYPES


def test_question_type_on_the_real_codeqa_dev_questions(real_data_root):
    questions = read_lines(real_data_root / "python" / "dev" / "dev.question")
    counts = Counter(question_type(q) for q in questions)
    assert counts == Counter({"what": 5012, "how": 706, "where": 381, "for what purpose": 321, "when": 262,
                              "yes-no": 201, "in which direction": 53, "why": 27, "till when": 14,
                              "by how much": 14, "other": 9})
    answers = read_lines(real_data_root / "python" / "dev" / "dev.answer")
    assert counts["yes-no"] == sum(a in ("Yes", "No") for a in answers)


# ---------------------------------------------------------------- the dataset
def test_cli_writes_the_codeqa_layout_and_stats(tmp_path):
    result = run_cli("make-dataset", "--source", str(FIXTURES), "--out", str(tmp_path / "out"), "--seed", "3",
                     "--split", "0.5,0.25,0.25")
    assert result.returncode == 0, result.stderr
    assert "what" in result.stdout and "QA pairs" in result.stdout
    root = tmp_path / "out" / "python"
    assert sorted(p.name for p in root.iterdir()) == ["dev", "stats.json", "train"]   # no test by default
    expected_rows = {(q, a, code, original) for original, code, pairs in EXPECTED for q, a in pairs}
    written_rows = []
    for split in ("train", "dev"):
        columns = [read_lines(root / split / f"{split}.{field}") for field in FIELDS]
        assert len({len(c) for c in columns}) == 1
        assert not (root / split / f"{split}.question").read_bytes().endswith(b"\n")
        assert read_split(tmp_path / "out", "python", split, "code.original")
        written_rows += list(zip(*columns))
    assert set(written_rows) <= expected_rows and len(set(written_rows)) == len(written_rows)
    stats = json.loads((root / "stats.json").read_text(encoding="utf-8"))
    assert stats["functions"]["train"] + stats["functions"]["dev"] == len({row[3] for row in written_rows})
    assert stats["pairs"]["total"] == len(written_rows) < len(expected_rows)      # the test share is left out
    assert stats["files"] == {"found": 1, "read": 1, "skipped": 0}
    assert stats["generator"] == "codeqa make-dataset" and stats["seed"] == 3
    assert sum(stats["question_types"]["total"].values()) == len(written_rows)


def test_same_sources_and_seed_give_byte_identical_output(tmp_path):
    source = _many_functions(tmp_path / "src")
    make_dataset([str(source), str(SAMPLE)], tmp_path / "a", seed=7, with_test=True)
    make_dataset([str(source), str(SAMPLE)], tmp_path / "b", seed=7, with_test=True)
    make_dataset([str(source), str(SAMPLE)], tmp_path / "c", seed=8, with_test=True)
    first, second = _tree_bytes(tmp_path / "a"), _tree_bytes(tmp_path / "b")
    assert first == second and len(first) == 13                       # 3 splits x 4 files + stats.json
    assert _tree_bytes(tmp_path / "c")["python/dev/dev.code"] != first["python/dev/dev.code"]


def test_split_is_by_function(tmp_path):
    source = _many_functions(tmp_path / "src", n=40)
    stats = make_dataset([str(source)], tmp_path / "out", seed=1, with_test=True)
    assert stats["functions"] == {"train": 32, "dev": 4, "test": 4}
    assert stats["pairs"] == {"train": 64, "dev": 8, "test": 8, "total": 80}
    codes = {}
    for split in ("train", "dev", "test"):
        lines = read_lines(tmp_path / "out" / "python" / split / f"{split}.code.original")
        codes[split] = Counter(lines)
        assert all(n == 2 for n in codes[split].values())             # both pairs of a function stay together
    assert not (codes["train"].keys() & codes["dev"].keys() or codes["train"].keys() & codes["test"].keys()
                or codes["dev"].keys() & codes["test"].keys())


def test_unparsable_and_unreadable_files_are_skipped_and_counted(tmp_path):
    source = tmp_path / "src"
    _many_functions(source, n=10)
    (source / "broken.py").write_text("def f(:\n    pass\n", encoding="utf-8")
    (source / "latin1.py").write_bytes(b'def f():\n    """Return \xe9t\xe9."""\n    return 1\n')
    result = run_cli("make-dataset", "--source", str(source), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "2 skipped" in result.stdout and "broken.py" in result.stdout
    stats = json.loads((tmp_path / "out" / "python" / "stats.json").read_text(encoding="utf-8"))
    assert stats["files"] == {"found": 3, "read": 1, "skipped": 2}
    reasons = {Path(s["path"]).name: s["reason"] for s in stats["skipped_files"]}
    assert reasons["broken.py"].startswith("SyntaxError")
    assert reasons["latin1.py"].startswith("UnicodeDecodeError")


def test_a_missing_source_is_an_error_naming_it(tmp_path):
    missing = tmp_path / "no" / "such_dir"
    result = run_cli("make-dataset", "--source", str(SAMPLE), str(missing), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert str(missing) in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("split", ["0.8,0.1", "0.8,0.3,0.1", "a,b,c", "1.2,-0.1,-0.1"])
def test_a_bad_split_is_an_error(tmp_path, split):
    with pytest.raises(CodeQAError, match="--split"):
        make_dataset([str(SAMPLE)], tmp_path, split=split)


def test_a_failure_leaves_the_previous_output_whole(tmp_path, monkeypatch):
    source = _many_functions(tmp_path / "src")
    out = tmp_path / "out"
    make_dataset([str(source)], out, seed=1)
    before = _tree_bytes(out)
    calls = []

    def failing_write_split(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_write_split(*args, **kwargs)

    real_write_split = dataset_module.write_split
    monkeypatch.setattr(dataset_module, "write_split", failing_write_split)
    with pytest.raises(OSError, match="disk full"):
        make_dataset([str(source)], out, seed=2)
    assert _tree_bytes(out) == before                                  # old output intact, no temp left
    assert [p.name for p in out.iterdir()] == ["python"]
    with pytest.raises(OSError, match="disk full"):
        calls.clear()
        make_dataset([str(source)], tmp_path / "fresh", seed=2)
    assert list((tmp_path / "fresh").iterdir()) == []


def test_a_folder_not_made_by_make_dataset_is_not_replaced(tmp_path):
    (tmp_path / "python" / "dev").mkdir(parents=True)
    (tmp_path / "python" / "dev" / "dev.question").write_text("What ?", encoding="utf-8")
    with pytest.raises(CodeQAError, match="refusing"):
        make_dataset([str(_many_functions(tmp_path / "src"))], tmp_path)
    assert (tmp_path / "python" / "dev" / "dev.question").read_text(encoding="utf-8") == "What ?"


def test_stdlib_source_skips_tests_and_site_packages():
    found, unlisted = find_files(["stdlib"])
    files = [file.path for file in found]
    assert unlisted == [] and all(file.member is None for file in found)
    root = stdlib_root()
    parts = {part for path in files for part in path.relative_to(root).parts[:-1]}
    assert not parts & {"test", "tests", "idlelib", "lib2to3", "site-packages", "__pycache__"}
    assert root / "os.py" in files and len(files) > 300
    assert files == sorted(files, key=lambda p: p.relative_to(root).as_posix())


def test_stdlib_package_end_to_end(tmp_path):
    """A slice of the real standard library: many pairs, the usual question types, CodeQA-like shares."""
    sources = [str(stdlib_root() / "email"), str(stdlib_root() / "logging")]
    stats = make_dataset(sources, tmp_path, with_test=True)
    types = stats["question_types"]["total"]
    assert stats["pairs"]["total"] > 500 and stats["files"]["skipped"] == 0
    assert {"what", "how", "where", "when", "for what purpose", "yes-no"} <= types.keys()
    assert 0.5 < types["what"] / stats["pairs"]["total"] < 0.85


def test_exclude_like_drops_near_duplicates_of_held_out_code(tmp_path):
    source = _many_functions(tmp_path / "src", n=40)
    make_dataset([str(source)], tmp_path / "plain", seed=1, with_test=True)
    train_codes = read_lines(tmp_path / "plain" / "python" / "train" / "train.code.original")
    target = train_codes[0]
    held_out = tmp_path / "codeqa"
    # the same function as a held-out example, with a small edit: still a near-duplicate
    write_codeqa(held_out, "dev", [("What does the code do ?", target + " extra", "something")])
    write_codeqa(held_out, "test", [("What ?", "def unrelated thing return 42", "x")])
    out = tmp_path / "clean"
    result = run_cli("make-dataset", "--source", str(source), "--out", str(out), "--seed", "1", "--with-test",
                     "--exclude-like", str(held_out))
    assert result.returncode == 0, result.stderr
    stats = json.loads((out / "python" / "stats.json").read_text(encoding="utf-8"))
    assert stats["excluded_near_duplicates"] == {"held_out_snippets": 2, "functions": 1}
    written = [line for split in ("train", "dev", "test")
               for line in read_lines(out / "python" / split / f"{split}.code.original")]
    assert target not in written and len(set(written)) == 39
    result = run_cli("make-dataset", "--source", str(source), "--out", str(tmp_path / "x"),
                     "--exclude-like", str(tmp_path / "nowhere"))
    assert result.returncode == 1 and "nowhere" in result.stderr


def test_max_files_reads_a_seeded_sample_of_the_files(tmp_path):
    source = tmp_path / "src"
    for k in range(12):   # 12 files of 3 functions each, all with distinct code
        _many_functions(source / f"pkg{k:02d}", n=3)
        body = (source / f"pkg{k:02d}" / "many.py").read_text(encoding="utf-8")
        (source / f"pkg{k:02d}" / "many.py").write_text(body.replace("x + ", f"x * {k} + "), encoding="utf-8")
    everything = make_dataset([str(source)], tmp_path / "all", seed=4, with_test=True)
    assert everything["files"] == {"found": 12, "read": 12, "skipped": 0}
    stats = make_dataset([str(source)], tmp_path / "a", seed=4, max_files=5, with_test=True)
    assert stats["files"] == {"found": 12, "read": 5, "skipped": 0, "sampled": 5}
    assert sum(stats["functions"].values()) == 15 and "a sample of 5: --max-files" in format_stats(stats)
    make_dataset([str(source)], tmp_path / "b", seed=4, max_files=5, with_test=True)
    assert _tree_bytes(tmp_path / "a") == _tree_bytes(tmp_path / "b")              # the same sample again
    other = make_dataset([str(source)], tmp_path / "c", seed=5, max_files=5, with_test=True)
    code_file = "python/train/train.code"
    assert _tree_bytes(tmp_path / "c")[code_file] != _tree_bytes(tmp_path / "a")[code_file]   # another seed
    assert sum(other["functions"].values()) == 15
    roomy = make_dataset([str(source)], tmp_path / "d", seed=4, max_files=50, with_test=True)   # above the count
    assert roomy["files"] == everything["files"]
    result = run_cli("make-dataset", "--source", str(source), "--out", str(tmp_path / "e"), "--max-files", "-1")
    assert result.returncode == 2 and "argument --max-files: must be >= 0" in result.stderr


def test_pretrain_for_writes_only_the_pretrain_split_without_held_out_code(tmp_path, tiny_data):
    source = _many_functions(tmp_path / "src", n=40)
    make_dataset([str(source)], tmp_path / "plain", seed=1, with_test=True)
    target = read_lines(tmp_path / "plain" / "python" / "train" / "train.code.original")[5]
    write_codeqa(tiny_data, "test", [("What does the code do ?", target, "something")])
    before = _tree_bytes(tiny_data)
    result = run_cli("make-dataset", "--source", str(source), "--pretrain-for", str(tiny_data))
    assert result.returncode == 0, result.stderr
    folder = tiny_data / "python" / "pretrain"
    assert "python/pretrain/" in result.stdout and "left out 1 function(s)" in result.stdout
    assert sorted(p.name for p in folder.iterdir()) == sorted([*(f"pretrain.{f}" for f in FIELDS), "stats.json"])
    after = _tree_bytes(tiny_data)
    assert {k: v for k, v in after.items() if "/pretrain/" not in k} == before       # nothing else touched
    written = read_lines(folder / "pretrain.code.original")
    assert target not in written and len(set(written)) == 39                        # the test snippet's twin left out
    stats = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
    assert stats["excluded_near_duplicates"]["functions"] == 1 and stats["split"] == {"pretrain": 1.0}
    assert len(read_split(tiny_data, "python", "pretrain")) == stats["pairs"]["total"]
    again = run_cli("make-dataset", "--source", str(source), "--pretrain-for", str(tiny_data))
    assert again.returncode == 0 and _tree_bytes(tiny_data) == after                 # replaces its own output
    missing = run_cli("make-dataset", "--source", str(source), "--pretrain-for", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "nowhere" in missing.stderr
    assert not (tmp_path / "nowhere").exists()


def test_summary_pairs_give_every_documented_function_its_first_sentence(tmp_path):
    from codeqa.synth.summaries import SUMMARY_QUESTION, summary_pair

    assert summary_pair("Return the sum of `a` and b (fast).\n\nArgs:\n  a: x") == (SUMMARY_QUESTION,
                                                                                    "return the sum of a and b")
    assert summary_pair("Helper.") is None  # a one-word sentence says nothing
    source = tmp_path / "m.py"
    source.write_text('def f(x):\n    """A small widget frobnicator."""\n    return x\n\n\n'
                      'def g(y):\n    """Return twice the value of y."""\n    return 2 * y\n', encoding="utf-8")
    plain = parse_functions(source.read_bytes(), str(source), seed=0)
    with_summaries = parse_functions(source.read_bytes(), str(source), seed=0, summaries=True)
    assert len(with_summaries) == 2 > len(plain)  # a sentence with no verb gives no QA pair, but a summary
    assert all(fn.pairs[-1][0] == SUMMARY_QUESTION for fn in with_summaries)
    stats = make_dataset([str(source)], tmp_path / "out", split="1,0,0", summaries=True)
    assert stats["question_types"]["train"]["summary"] == 2 and stats["summaries"] is True
