"""Docstring → CodeQA-style (question, answer) pairs, by a handful of syntactic rules.

CodeQA made its pairs by parsing each docstring and taking one phrase out at a time: the object of the
verb becomes the answer to "What does the code <verb> ?", a "with/by/using" phrase the answer to "How
...?", an "in/on/at" phrase to "Where ...?", a "from/onto" phrase to "In which direction ...?" (as in
CodeQA's data), and so on. There is no parser model here; a sentence is read by rules instead:

1. the docstring's leading sentences (at most three, from the prose before any "Args:"-like section),
   markup and parenthetical remarks removed;
2. a clause is found: an imperative ("Return ...", "Returns ..." — the subject is "the code"), a subject
   with a verb ("This function returns ...", "The lock is released when ...", "X can be used to ..."),
   or a copula ("The result is a string"); sentences without one give nothing;
3. what follows the verb is cut into the object and phrases, each phrase getting the question word of
   its first word (:data:`PREP_ROLES`, :data:`CLAUSE_ROLES`);
4. one question is made per phrase taken out, the other phrases staying in the question; a few
   statements are inverted into yes/no questions (a negated statement answers ``No``).

Questions and answers are lower-case words separated by spaces, a question starts with a capital and
ends with " ?", as in CodeQA.
"""

from __future__ import annotations

import zlib

from codeqa.synth.clauses import CLAUSE_ROLES, PREP_ROLES, Clause, Phrase, clauses
from codeqa.synth.english import DETERMINERS, GENERIC_SUBJECTS, PRONOUNS
from codeqa.synth.sentences import leading_sentences, sentence_words

WH_WORDS = {"what": ["what"], "how": ["how"], "where": ["where"], "when": ["when"], "why": ["why"],
            "for what purpose": ["for", "what", "purpose"], "till when": ["till", "when"],
            "in which direction": ["in", "which", "direction"]}

# Share of statements also asked as yes/no questions; with the negated statements (always asked, "No")
# the yes/no share of all pairs comes out near CodeQA's.
YES_NO_RATE = 0.04
MAX_ANSWER_WORDS = 20
MAX_QUESTION_WORDS = 30


def clause_questions(clause: Clause) -> list[tuple[list[str], list[str]]]:
    """(question words, answer words) pairs for one clause; the yes/no inversion comes first."""
    subject = clause.subject or ["the", "code"]
    asks_subject = bool(clause.subject) and not (set(clause.subject) & GENERIC_SUBJECTS) \
        and not all(w in PRONOUNS or w in DETERMINERS for w in clause.subject)
    head = [clause.aux, *subject, *clause.verb]
    obj = [*clause.obj_prep, *clause.obj] if clause.obj else []

    def context(skip: Phrase | None = None) -> list[str]:
        return [w for p in clause.phrases if p is not skip for w in p.words]

    statement = [*head, *obj, *context()]
    if clause.negated:
        return [(statement, ["No"])] if obj or clause.phrases else []
    pairs = [(statement, ["Yes"])] if obj or clause.phrases else []
    if clause.copula:
        if asks_subject and clause.obj:
            pairs.append((["what", clause.aux, *clause.subject], clause.obj))
        return pairs
    if clause.obj:
        pairs.append((["what", *head, *clause.obj_prep, *context()], clause.obj))
    if asks_subject and (clause.obj or clause.phrases):
        pairs.append((["what", *clause.surface, *obj, *context()], clause.subject))
    for phrase in clause.phrases:
        if phrase.role == "what" and len(phrase.words) > 1:          # the preposition stays behind
            pairs.append((["what", *head, *obj, phrase.words[0], *context(phrase)], phrase.words[1:]))
        elif phrase.role and len(phrase.words) > 1:
            pairs.append(([*WH_WORDS[phrase.role], *head, *obj, *context(phrase)], phrase.words))
    if clause.manner:
        pairs.append((["how", *head, *obj, *context()], clause.manner))
    return pairs


def _acceptable(question: list[str], answer: list[str]) -> bool:
    if not answer or len(answer) > MAX_ANSWER_WORDS or len(question) > MAX_QUESTION_WORDS:
        return False
    if answer[0] in ("Yes", "No"):
        return True
    content = [w for w in answer
               if w not in PRONOUNS and w not in DETERMINERS and any(c.isalnum() for c in w)]
    return bool(content) and answer[-1] not in PREP_ROLES and answer[-1] not in CLAUSE_ROLES


def _keep_yes_no(question: str, seed: int, rate: float) -> bool:
    """A stable coin toss per question: the same question and seed always give the same answer."""
    return zlib.crc32(f"{seed}\0{question}".encode()) / 2**32 < rate


def qa_pairs(docstring: str, seed: int = 0, yes_no_rate: float = YES_NO_RATE) -> list[tuple[str, str]]:
    """CodeQA-style (question, answer) pairs from a docstring, questions unique; [] when nothing fits."""
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for sentence in leading_sentences(docstring):
        for clause in clauses(sentence_words(sentence)):
            for question_words, answer_words in clause_questions(clause):
                if not _acceptable(question_words, answer_words):
                    continue
                question = " ".join(question_words)
                question = question[0].upper() + question[1:] + " ?"
                if answer_words == ["Yes"] and not _keep_yes_no(question, seed, yes_no_rate):
                    continue
                if question not in seen:
                    seen.add(question)
                    pairs.append((question, " ".join(answer_words)))
    return pairs
