"""Words → clauses: step 2 of the question rules (:mod:`codeqa.synth.questions`). A sentence's clause is
an imperative ("Return X"), a subject with a verb ("This function returns X") or a copula ("The result is
X"); what follows the verb is cut into the object and phrases, each phrase taking the question word of its
first word."""

from __future__ import annotations

from dataclasses import dataclass, field

from codeqa.synth.english import (
    BE,
    DETERMINERS,
    MODALS,
    NEGATIONS,
    NON_SUBJECT_STARTS,
    NOUNY_VERBS,
    PARTICIPLES,
    PRONOUNS,
    START_AMBIGUOUS,
    THIRD_PERSON,
    VERBS,
    is_manner_adverb,
    words,
)
from codeqa.synth.sentences import KEPT_PUNCTUATION

# A preposition opens a phrase running to the next boundary; the value is the question word for it
# (None: the phrase stays in the questions but is never asked about; "what": asked with the preposition
# left at its place, "What does the code convert X to ?").
PREP_ROLES = {
    "with": "how", "by": "how", "using": "how", "via": "how", "without": "how", "through": "how",
    "as": "how",
    "in": "where", "on": "where", "at": "where", "within": "where", "inside": "where", "under": "where",
    "across": "where",
    "from": "in which direction",       # as most of CodeQA's "from" answers are
    "into": "what", "to": "what",       # "What does the code convert X to ?" / "y"
    "onto": "in which direction", "towards": "in which direction",
    "toward": "in which direction",
    "for": "for what purpose",
    "during": "when", "upon": "when",
    "instead": None, "unlike": None, "except": None, "rather": None,
}
# A subordinating word opens a clause running to the next comma.
CLAUSE_ROLES = {
    "when": "when", "whenever": "when", "while": "when", "after": "when", "before": "when", "once": "when",
    "if": "when", "iff": "when",
    "until": "till when", "till": "till when",
    "because": "why", "since": "why",
    "unless": None, "whereas": None, "although": None, "though": None, "but": None,
}
# "Iterate over X" → "What does the code iterate over ?" / "x" (only right after the verb).
OBJECT_PREPS = frozenset({"over", "about", "for", "to", "upon", "against"})
PURPOSE_OPENERS = {("so", "that"), ("in", "order")}
# Object clauses: "Check whether X", "Ensure that X".
OBJECT_CLAUSE_WORDS = frozenset({"that", "whether", "how", "what", "which", "who", "why", "where"})
CHECK_VERBS = frozenset({"check", "test", "see", "determine", "decide", "tell", "ask", "verify", "find",
                         "know", "show", "indicate", "report", "query", "detect", "return"})
RELATIVES = frozenset({"that", "which", "who", "whose", "where"})
PARTICLES = frozenset({"up", "down", "out", "off", "back", "away"})
NOT_PARTICIPLE = words("""
string nothing something anything everything thing things encoding mapping padding warning binding heading
setting settings ring spring offering listing logging timing ending beginning building opening missing
pending remaining during according including following bytestring substring king morning evening
interesting existing corresponding underlying outstanding seed need feed speed bed red embed shared
""")
FILLER_NOUNS = words("""
helper wrapper decorator hook method function routine callback utility shortcut factory predicate
coroutine generator iterator constructor property command
""")
FILLER_WORDS = FILLER_NOUNS | {"internal", "private", "public", "convenience", "generic", "default",
                               "simple", "small", "little", "a", "an", "the", "this"}
LEADING_ADVERBS = words("just simply also actually basically then now first always often usually normally "
                        "optionally currently still")
MAX_SENTENCE_WORDS = 45


@dataclass
class Phrase:
    role: str | None
    words: list[str]


@dataclass
class Clause:
    subject: list[str]            # [] → "the code"
    aux: str                      # the word inverted in questions: does, do, is, are, can, ...
    verb: list[str]               # after the subject in a question: ["return"], ["be", "used"], ["called"]
    surface: list[str]            # as stated, for "What <surface> <object> ?": ["returns"], ["can", "read"]
    obj: list[str] = field(default_factory=list)
    obj_prep: list[str] = field(default_factory=list)
    phrases: list[Phrase] = field(default_factory=list)
    manner: list[str] = field(default_factory=list)
    negated: bool = False
    copula: bool = False


def clauses(tokens: list[str]) -> list[Clause]:
    """The clauses of one sentence (several for "Read X, parse it and return Y"), or [] when none."""
    tokens = _front(tokens)
    if len(tokens) < 2 or len(tokens) > MAX_SENTENCE_WORDS:
        return []
    found = _imperative(tokens) or _with_subject(tokens)
    if found is None:
        return []
    clause, start, form = found
    result = []
    while True:
        rest = _predicate(clause, tokens[start:], form)
        result.append(clause)
        if not rest:
            return result
        verb_base, verb_surface, start = _verb_group(rest, 0, form)
        tokens = rest
        if clause.aux in MODALS:
            verb_surface = [clause.aux, *verb_surface]
        clause = Clause(clause.subject, clause.aux, verb_base, verb_surface if clause.subject else verb_base)


def _front(tokens: list[str]) -> list[str]:
    """Drop labels ("Internal: ..."), fillers ("Helper function to ..."), leading adverbs; a leading
    "If X, Y" becomes "Y, if X"."""
    if ":" in tokens[:4]:
        tokens = tokens[tokens.index(":") + 1:]
    if ":" in tokens:
        tokens = tokens[:tokens.index(":")]
    while tokens and tokens[0] in LEADING_ADVERBS:
        tokens = tokens[1:]
    if tokens[:1] == ["given"] and "," in tokens:                  # "Given X, return Y"
        tokens = tokens[tokens.index(",") + 1:]
    if tokens[:1] in (["true"], ["false"]) and tokens[1:2] and tokens[1] in CLAUSE_ROLES:
        tokens = ["return", *tokens]                               # "True if X": what the code returns
    n = 0
    while n < len(tokens) and tokens[n] in FILLER_WORDS:
        n += 1
    if any(t in FILLER_NOUNS for t in tokens[:n]) and n + 1 < len(tokens):
        if tokens[n] == ",":                                       # "Interaction function, emulates X"
            n += 1
        if (tokens[n] == "to" and tokens[n + 1] in VERBS) or (tokens[n] in ("that", "which")
                                                             and tokens[n + 1] in THIRD_PERSON):
            return tokens[n + 1:]
        if tokens[n] in THIRD_PERSON or (tokens[n] in PARTICIPLES
                                         and (tokens[n + 1] in PREP_ROLES or tokens[n + 1] in CLAUSE_ROLES)):
            return tokens[n:]                                      # "Function used for X"
        if tokens[n] in ("for", "to"):
            return []
    if tokens and CLAUSE_ROLES.get(tokens[0]) and "," in tokens:
        comma = tokens.index(",")
        tokens = tokens[comma + 1:] + [","] + tokens[:comma]
    return tokens


def _imperative(tokens: list[str]) -> tuple[Clause, int, str] | None:
    """A sentence with no subject: "Return X", "Returns X", "Called when X", "Does not X"."""
    first, second = tokens[0], tokens[1]
    if is_manner_adverb(first) and (second in VERBS or second in THIRD_PERSON) and len(tokens) > 2:
        found = _imperative(tokens[1:])                            # "Recursively delete X"
        if found:
            found[0].manner = [first]
            return found[0], found[1] + 1, found[2]
    if first in ("does", "do") and second in NEGATIONS and tokens[2:3] and tokens[2] in VERBS:
        base, _, start = _verb_group(tokens, 2, "base")
        return Clause([], "does", base, base, negated=True), start, "none"
    if first == "see":                                             # "See X for details": not a verb
        return (Clause([], "does", ["see"], ["see"]), 1, "base") if second in ("if", "whether") else None
    if first in ("do", "don", "have") or first in NON_SUBJECT_STARTS:
        return None
    if first in START_AMBIGUOUS and second not in DETERMINERS | PRONOUNS | {"true", "false", "none", "self"}:
        return None                                                # "Log normal distribution"
    if second in {"of", "is", "are", "was", "were", "value", "values", "type", "types", "'s"}:
        return None
    if first in THIRD_PERSON:
        base, _, start = _verb_group(tokens, 0, "third")
        return Clause([], "does", base, base), start, "third"
    if first in VERBS:
        base, _, start = _verb_group(tokens, 0, "base")
        return Clause([], "does", base, base), start, "base"
    if first in PARTICIPLES and (second in PREP_ROLES or second in CLAUSE_ROLES):
        return Clause([], "is", [first], [first]), 1, "none"
    if (second in ("the", "a", "an") and first.isalpha() and first not in DETERMINERS | PRONOUNS
            and not first.endswith(("ing", "ed", "ly"))
            and (not first.endswith("s") or first.endswith("ss"))):
        return Clause([], "does", [first], [first]), 1, "base"   # a verb missing from the list
    return None


def _with_subject(tokens: list[str]) -> tuple[Clause, int, str] | None:
    """"<subject> returns X", "<subject> is/are Y", "<subject> can/should (not) <verb> X"."""
    if tokens[0] in NON_SUBJECT_STARTS or not (tokens[0][0].isalnum() or tokens[0][0] == "_"):
        return None
    for k in range(1, min(len(tokens) - 1, 7)):
        word, prev = tokens[k], tokens[k - 1]
        subject = tokens[:k]
        if not (word[0].isalnum() or word[0] == "_") or word in PREP_ROLES or word in CLAUSE_ROLES \
                or word in RELATIVES:
            return None
        after = tokens[k + 1:]
        negated = bool(after) and after[0] in NEGATIONS
        if negated:
            after = after[1:]
        shift = k + 1 + negated
        if word in BE:
            aux = BE[word]
            if after and after[0] in PARTICIPLES and after[0] not in DETERMINERS:
                return Clause(subject, aux, [after[0]], [aux, after[0]], negated=negated), shift + 1, "none"
            if not after or after[0].endswith("ing"):
                return None
            return Clause(subject, aux, [], [aux], negated=negated, copula=True), shift, "none"
        if word in MODALS or (word in ("does", "do") and negated):
            if after[:1] == ["be"] and after[1:2] and after[1] in PARTICIPLES:
                return (Clause(subject, word, ["be", after[1]], [word, "be", after[1]], negated=negated),
                        shift + 2, "none")
            if after and after[0] in VERBS:
                base, surface, start = _verb_group(tokens, shift, "base")
                return Clause(subject, word, base, [word, *surface], negated=negated), start, "base"
            return None
        if prev in DETERMINERS or prev.endswith("'s"):
            continue
        if word in THIRD_PERSON:
            base, surface, start = _verb_group(tokens, k, "third")
            return Clause(subject, "does", base, surface), start, "third"
        if word in VERBS and word not in NOUNY_VERBS and _plural(subject):
            base, surface, start = _verb_group(tokens, k, "base")
            return Clause(subject, "do", base, surface), start, "base"
    return None


def _plural(subject: list[str]) -> bool:
    last = subject[-1]
    ends_like_plural = len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is"))
    return "and" in subject or ends_like_plural


def _is_form(word: str, form: str) -> bool:
    return (form == "base" and word in VERBS) or (form == "third" and word in THIRD_PERSON)


def _verb_group(tokens: list[str], k: int, form: str) -> tuple[list[str], list[str], int]:
    """The verb at ``k`` with a coordinated verb ("format and return") and a particle ("look up"):
    its base form, its form as stated, and the index after it."""
    def base(word: str) -> str:
        return THIRD_PERSON.get(word, word) if form == "third" else word

    lemma, surface = [base(tokens[k])], [tokens[k]]
    k += 1
    if k + 1 < len(tokens) and tokens[k] in ("and", "or") and _is_form(tokens[k + 1], form):
        lemma += [tokens[k], base(tokens[k + 1])]
        surface += tokens[k:k + 2]
        k += 2
    if k < len(tokens) and tokens[k] in PARTICLES:
        lemma.append(tokens[k])
        surface.append(tokens[k])
        k += 1
    return lemma, surface, k


def _opens_clause(tokens: list[str], j: int, form: str) -> bool:
    """Does a new coordinated clause ("..., and return X") start at ``j``?"""
    if j >= len(tokens) or not _is_form(tokens[j], form):
        return False
    word = THIRD_PERSON.get(tokens[j], tokens[j]) if form == "third" else tokens[j]
    if word in NOUNY_VERBS:
        following = tokens[j + 1] if j + 1 < len(tokens) else ""
        return following in DETERMINERS or following in PRONOUNS or following in ("true", "false", "none")
    return True


def _predicate(clause: Clause, tokens: list[str], form: str) -> list[str]:
    """Fill the clause's object, phrases and manner from the words after its verb; return the words of
    the next coordinated clause, if any."""
    if clause.copula:
        clause.obj = _until_comma(tokens, 0)
        return []
    current, running = clause.obj, False    # running: a clause that goes on to the next comma
    i = 0
    while i < len(tokens):
        word = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if word in (",", "and", "or", "then"):
            j = i + 2 if word == "," and nxt in ("and", "or", "then") else i + 1
            if _opens_clause(tokens, j, form):
                _tidy(clause)
                return tokens[j:]
            if word == ",":
                if nxt in PREP_ROLES or nxt in CLAUSE_ROLES or (nxt, tokens[i + 2:i + 3]) == ("so", ["that"]):
                    current, running, i = [], False, i + 1
                    continue
                break                                  # "X, Y otherwise": not understood, stop here
        if running:
            current.append(word)
            i += 1
            continue
        at_object = current is clause.obj and not clause.obj and not clause.obj_prep and not clause.phrases
        pronoun = word == "that" and (nxt in PREP_ROLES or nxt in CLAUSE_ROLES
                                      or nxt in ("", ",", "and", "or"))    # "use that to X"
        if at_object and not pronoun and (word in OBJECT_CLAUSE_WORDS
                                          or (word == "if" and clause.verb[-1] in CHECK_VERBS)):
            clause.obj.extend(_until_comma(tokens, i + (word == "that")))
            i += len(_until_comma(tokens, i))
            continue
        if at_object and is_manner_adverb(word):
            clause.manner = [word]
        elif at_object and word in OBJECT_PREPS and not (nxt in VERBS or nxt == "be"):
            clause.obj_prep = [word]
        elif (word == "to" and (nxt in VERBS or nxt == "be")) or (word, nxt) in PURPOSE_OPENERS:
            current, running = _open(clause, "for what purpose", word), True
        elif word in ("according", "based") and nxt in ("to", "on"):
            current, running = _open(clause, "how", word), False
        elif word == "as" and nxt in ("well", "such"):
            current.append(word)
        elif word in CLAUSE_ROLES:
            current, running = _open(clause, CLAUSE_ROLES[word], word), True
        elif word in PREP_ROLES:
            current, running = _open(clause, PREP_ROLES[word], word), False
        elif current and (word in RELATIVES or _participle_after_noun(word, current[-1])):
            current.append(word)
            running = True
        else:
            current.append(word)
        i += 1
    _tidy(clause)
    return []


def _open(clause: Clause, role: str | None, word: str) -> list[str]:
    phrase = Phrase(role, [word])
    clause.phrases.append(phrase)
    return phrase.words


def _until_comma(tokens: list[str], i: int) -> list[str]:
    end = tokens.index(",", i) if "," in tokens[i:] else len(tokens)
    return tokens[i:end]


def _participle_after_noun(word: str, prev: str) -> bool:
    """"the value stored in X", "a matrix representing X": the noun phrase goes on to the comma."""
    return (len(word) > 5 and word.endswith(("ing", "ed")) and word not in NOT_PARTICIPLE
            and word not in PREP_ROLES and prev not in DETERMINERS and prev.isalpha())


def _tidy(clause: Clause) -> None:
    if clause.obj and is_manner_adverb(clause.obj[-1]) and not clause.manner:
        clause.manner = [clause.obj.pop()]
    for tokens in [clause.obj] + [p.words for p in clause.phrases]:
        while tokens and (tokens[-1] in {"and", "or", "then", ",", "a", "an", "the"}
                          or tokens[-1] in KEPT_PUNCTUATION - {"*", "]", "}"}):
            tokens.pop()
