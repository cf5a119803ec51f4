"""The small amount of English the question rules need: verbs and their forms, function words."""

from __future__ import annotations


def words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``, for writing long word lists readably."""
    return frozenset(text.split())


# Verbs that open docstrings ("Return ...", "Creates ...") or follow a subject ("... returns ...").
VERBS = words("""
abort accept access acquire activate adapt add adjust advance align allocate allow alter analyse analyze
announce annotate append apply approve archive arrange ask assemble assert assign associate attach attempt
authenticate authorize avoid back bind block break build bump cache calculate call cancel canonicalize
capture cast change check choose clean cleanup clear clone close coerce collapse collect combine commit
compare compile complete compose compress compute concatenate configure confirm connect consume contain
continue convert copy correct count create cut deactivate decode decompress decorate decrement deduce
define delete deliver derive describe deserialize destroy detach detect determine disable discard
disconnect discover dispatch display dispose divide do download drain draw drop dump duplicate edit emit
emulate enable encode encrypt end ensure enter enumerate escape establish estimate evaluate examine exclude
execute exit expand expect expire explain export expose express extend extract fail feed fetch fill filter
finalize find finish fire fix flatten flush fold follow force fork format forward free freeze gather
generate get give go grab guess handle hash have hide hold identify ignore implement import include
increase increment indent
indicate inform initialize initialise inject insert inspect install instantiate intercept interpret
invalidate invert invoke isolate iterate join keep kill launch leave let limit link list listen load locate
lock log look loop lower make manage map mark mask match measure merge mimic modify monitor mount move
multiply mutate need negate normalize normalise note notify obtain open operate optimize order output
override pack pad paint parse pass patch pause peek perform pick place play poll pop populate post prefix
prepare prepend preserve pretend prevent print probe process produce prompt propagate protect provide prune
publish pull purge push put query queue quit quote raise randomize read rebuild receive recompute
reconstruct record recover redirect redraw reduce refer refresh register reject release reload remove
rename render reopen reorder repair repeat replace reply report represent request require reset reshape
resize resolve restart restore resume retrieve retry return reuse reverse rewind rewrite rollback rotate
round route run sanitize save scale scan schedule search seek see select send serialize serve set setup shift
show shuffle shut shutdown signal simplify skip sleep slice sort spawn specify split start stop store
strip submit subscribe substitute subtract suggest supply support suppress swap switch synchronize take
tell terminate test throw toggle tokenize track transform translate traverse trigger trim truncate try
turn unbind undo unescape unget unify uninstall unlink unload unlock unmount unpack unquote unregister
unset unwrap update upgrade upload use validate verify visit wait walk wake warn watch wrap write yield zip
""")

# Verbs that are just as often nouns or adjectives: "Set of ...", "list and map". Not trusted after
# "and" to start a new clause unless an object follows.
NOUNY_VERBS = words("""
back block break call cast change check clear close copy count cut drop dump end feed fill filter fix
force free hash hold list lock log look loop lower map mark mask match need note order output pack pad
patch pause place play poll post prefix print process query queue quote raise record reply report request
return round scale set shift signal slice sort start stop store support swap switch test track trim turn
undo use wait walk watch yield zip
""")
# Of those, the ones that open a docstring as a noun often enough ("Log normal distribution", "List of X")
# to be read as a verb there only before a determiner or pronoun.
START_AMBIGUOUS = words("""
back block break cut end filter hash list lock log loop map mask match need note order output pad patch
place play post prefix queue record report request signal slice support undo yield zip
""")

_IRREGULAR_PARTICIPLES = {
    "begun": "begin", "bound": "bind", "broken": "break", "brought": "bring", "built": "build",
    "caught": "catch", "chosen": "choose", "done": "do", "drawn": "draw", "driven": "drive", "fed": "feed",
    "found": "find", "frozen": "freeze", "given": "give", "gone": "go", "got": "get", "gotten": "get",
    "held": "hold", "hidden": "hide", "kept": "keep", "known": "know", "laid": "lay", "left": "leave",
    "lost": "lose", "made": "make", "meant": "mean", "overridden": "override", "paid": "pay", "put": "put",
    "read": "read", "rebuilt": "rebuild", "rewritten": "rewrite", "run": "run", "said": "say", "seen": "see",
    "sent": "send", "set": "set", "shown": "show", "shut": "shut", "sought": "seek", "spawned": "spawn",
    "split": "split", "taken": "take", "thrown": "throw", "told": "tell", "undone": "undo",
    "written": "write", "cut": "cut",
}

_IRREGULAR_THIRD = {"does": "do", "goes": "go", "has": "have"}
_DOUBLED = words("""
commit drop emit flip grab map pad plan ship shut skip slip snap spin split step stop strip submit swap
trim wrap zip
""")


def _third_person(verb: str) -> str:
    if verb.endswith(("s", "x", "z", "ch", "sh", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _participle(verb: str) -> str:
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ied"
    if verb in _DOUBLED:
        return verb + verb[-1] + "ed"
    return verb + "ed"


THIRD_PERSON = {_third_person(v): v for v in VERBS} | _IRREGULAR_THIRD
PARTICIPLES = {_participle(v): v for v in VERBS} | _IRREGULAR_PARTICIPLES


DETERMINERS = words("""
a an the this that these those each every all any some no its their his her our your my another other
both either neither such several many multiple one two three
""")
PRONOUNS = words("it them they this that these those itself themselves he she we you i one its")
# Subjects that say nothing about the code: "What returns x ?" → "this function" is not worth asking.
GENERIC_SUBJECTS = words("""
function method class routine call code implementation version wrapper helper callback this it they
decorator object instance module
""")
MODALS = words("can could will would should must may might shall")
BE = {"is": "is", "are": "are", "was": "is", "were": "are"}
NEGATIONS = frozenset({"not", "never"})
# Words that can be neither a subject's first word nor an imperative verb.
NON_SUBJECT_STARTS = words("""
if when whenever while for from to in on at by with without as see note same like unlike given after
before since because until unless although though however otherwise else also but and or so then
there here what which who how why where whether just only please do does did is are was were be
inside within under across into onto toward towards during upon about over against between through via
using without per among along around
""")
# -ly words that are not manner adverbs ("How does the code ... ?" would be nonsense for them).
NOT_MANNER = words("""
only early family apply supply reply multiply assembly currently previously usually typically simply
actually really likely unlikely finally optionally possibly probably merely mostly rarely generally
normally basically essentially initially eventually immediately newly respectively similarly
additionally alternatively accordingly exactly nearly entirely already rely ally bully fly july italy
poly anomaly hourly daily weekly monthly yearly friendly silly holy ugly jelly
""")


def is_manner_adverb(word: str) -> bool:
    return len(word) > 4 and word.endswith("ly") and word.isalpha() and word not in NOT_MANNER
