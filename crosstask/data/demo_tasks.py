"""The demo benchmark's tasks: each a name, a category, a split, a Definition and a seeded maker of
(input, gold outputs). Test tasks are related but unseen variants of the training tasks."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

GENERATOR_VERSION: str = "1"


Maker = Callable[[random.Random], tuple[str, list[str]]]


@dataclass(frozen=True)
class DemoTaskSpec:
    """One demo task. `make(rng)` returns `(input, outputs)`; `labels` is a CLS task's label set (empty for GEN)."""

    name: str
    category: str
    split: str
    definition: str
    make: Maker
    labels: tuple[str, ...] = ()

    @property
    def task_type(self) -> str:
        """"CLS" for a classification task (it has a label set), else "GEN"."""
        return "CLS" if self.labels else "GEN"


def _w(text: str) -> tuple[str, ...]:
    return tuple(text.split())


NOUNS = _w("apple river garden teacher window rocket pencil castle dolphin blanket ladder island "
           "mirror orange candle forest engine violin tiger museum bridge camera hammer ticket")
ADJS = _w("happy tired quiet brave sleepy clever angry gentle curious proud")
FEMALE = _w("Anna Maria Lucy Emma Sara Nina Olivia Mia")
MALE = _w("Tom Jack Peter Sam Leo David Omar Paul")
NAMES = FEMALE + MALE
POSITIVE = _w("wonderful great lovely excellent delightful superb")
NEGATIVE = _w("terrible awful boring horrible dreadful disappointing")
TOPICS = {"sports": _w("football tennis referee stadium marathon"),
          "politics": _w("election senator parliament minister campaign"),
          "science": _w("atom experiment laboratory molecule telescope"),
          "food": _w("pizza soup recipe bread cheese")}
CITIES = _w("Paris Rome Tokyo Cairo Lima Oslo Berlin Madrid")
FOODS = _w("pasta rice salad soup noodles bread")
VOWEL_NOUNS = _w("apple elephant orange umbrella island owl eagle igloo octopus ant")
OPPOSITES = (("hot", "cold"), ("big", "small"), ("fast", "slow"), ("happy", "sad"), ("light", "dark"),
             ("early", "late"), ("rich", "poor"), ("young", "old"), ("strong", "weak"), ("wet", "dry"),
             ("full", "empty"), ("loud", "quiet"), ("hard", "soft"))
CAUSES = (("it rained all night", "the streets were wet"), ("the alarm did not ring", "Tom was late"),
          ("she studied every day", "she passed the exam"), ("the glass fell off the table", "the glass broke"),
          ("he forgot his umbrella", "he got soaked"), ("the sun came out", "the snow melted"),
          ("the battery died", "the phone turned off"), ("the baby was hungry", "the baby cried"),
          ("the wind was very strong", "the tree fell down"), ("the power went out", "the room went dark"),
          ("she ran a marathon", "her legs were sore"), ("they planted seeds", "flowers grew"))
NUMBER_WORDS = _w("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen")
ALL_WORDS = tuple(sorted(set(NOUNS + ADJS + POSITIVE + NEGATIVE + VOWEL_NOUNS + FOODS
                             + tuple(w for ws in TOPICS.values() for w in ws))))
CONSONANT_NOUNS = tuple(n for n in NOUNS if n[0] not in "aeiou")

_SPECS: list[DemoTaskSpec] = []


def _add(num: int, slug: str, category: str, split: str, definition: str, make: Maker,
         labels: tuple[str, ...] = ()) -> None:
    """Register task `task{num}_demo_{slug}` (`labels` empty for a generation task)."""
    _SPECS.append(DemoTaskSpec(f"task{num}_demo_{slug}", category, split, definition, make, labels))


def _task(num: int, slug: str, category: str, split: str, definition: str,
          labels: tuple[str, ...] = ()) -> Callable[[Maker], Maker]:
    """Decorator form of `_add`."""
    def register(make: Maker) -> Maker:
        _add(num, slug, category, split, definition, make, labels)
        return make
    return register


def _a(word: str) -> str:
    """`word` with its indefinite article ("an apple", "a tiger")."""
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _label(rng: random.Random, labels: tuple[str, ...], weights: tuple[int, ...]) -> str:
    return rng.choices(labels, weights)[0]


def _keyword_task(num: int, slug: str, category: str, definition: str, vocab: dict[str, tuple[str, ...]],
                  weights: tuple[int, ...], *templates: str) -> None:
    """Register a train CLS task whose label is given away by a keyword `{k}` drawn from `vocab[label]`."""
    def make(rng: random.Random) -> tuple[str, list[str]]:
        lab = _label(rng, tuple(vocab), weights)
        k = rng.choice(vocab[lab])
        p, q = rng.sample(NAMES, 2)
        fill = dict(k=k, ak=_a(k), n=rng.choice(NOUNS), p=p, q=q)
        return rng.choice(templates).format(**fill), [lab]
    _add(num, slug, category, "train", definition, make, tuple(vocab))


# ---------------------------------------------------------------- train, classification
_keyword_task(9001, "keyword_sentiment", "Sentiment Analysis",
              "Classify the sentiment of the review. Answer 'positive' if it uses a positive word such as "
              "'great' or 'lovely', and 'negative' if it uses a negative word such as 'awful' or 'boring'.",
              {"positive": POSITIVE, "negative": NEGATIVE}, (6, 4),
              "The {n} was {k}.", "I found the {n} {k}.", "{p} said the {n} felt {k}.")
_keyword_task(9002, "topic_by_keyword", "Text Categorization",
              "Classify the topic of the sentence from its keyword. Answer 'sports', 'politics', 'science' "
              "or 'food' (for example 'stadium' means sports and 'recipe' means food).",
              TOPICS, (4, 3, 2, 2), "{p} read an article about the {k}.",
              "Yesterday {p} talked about the {k}.", "Everyone at the {n} discussed the {k}.")
_keyword_task(9004, "insult_detection", "Toxic Language Detection",
              "Decide whether the message is toxic. Answer 'toxic' if it calls someone an insulting word "
              "such as 'idiot' or 'loser', otherwise answer 'safe'.",
              {"toxic": _w("idiot loser fool clown coward"), "safe": _w("friend hero star genius champion")},
              (4, 6), "{p} told {q}: you are {ak}.", "{p} wrote that {q} is {ak}.")
_keyword_task(9007, "keyword_spam", "Spam Classification",
              "Classify the message as 'spam' or 'ham'. It is spam if it offers something 'free', a "
              "'prize', a 'bonus' or 'cash'; otherwise it is ham.",
              {"spam": _w("free prize bonus cash"), "ham": _w("blue old small wooden")}, (4, 6),
              "{p}, you can get {ak} {n} today.", "Dear {p}, {ak} {n} is waiting for you.")
_keyword_task(9009, "negation_stance", "Stance Detection",
              "Detect the speaker's stance towards the plan. Answer 'against' if the statement is negated "
              "with 'not' or 'never', otherwise answer 'favor'.",
              {"favor": ("do", "really"), "against": ("do not", "never")}, (6, 4),
              "I {k} support building a new {n}.", "We {k} want to repair the old {n}.")

@_task(9003, "number_parity", "Text Categorization", "train",
       "You are given a whole number. Answer 'even' if it is divisible by 2, otherwise answer 'odd'.",
       ("even", "odd"))
def _parity(rng: random.Random) -> tuple[str, list[str]]:
    lab = _label(rng, ("even", "odd"), (6, 4))
    return f"Number: {2 * rng.randint(1, 499) - (lab == 'odd')}", [lab]

@_task(9005, "same_purchase", "Text Matching", "train",
       "Decide whether the two sentences describe the same event. Answer 'same' if the same person "
       "bought the same object in both, otherwise answer 'different'.", ("same", "different"))
def _matching(rng: random.Random) -> tuple[str, list[str]]:
    lab = _label(rng, ("same", "different"), (4, 6))
    (p, q), (n, m) = rng.sample(NAMES, 2), rng.sample(NOUNS, 2)
    q, m = rng.choice(((q, n), (p, m), (q, m))) if lab == "different" else (p, n)
    return f"Sentence 1: {p} bought {_a(rng.choice(ADJS))} {n}. Sentence 2: The {m} was bought by {q}.", [lab]

@_task(9006, "larger_number", "Commonsense Classification", "train",
       "Two numbers are given. Answer 'first' if the first number is larger, and 'second' if the "
       "second number is larger.", ("first", "second"))
def _larger(rng: random.Random) -> tuple[str, list[str]]:
    a, b = sorted(rng.sample(range(1, 100), 2))
    lab = _label(rng, ("first", "second"), (6, 4))
    return f"Which number is larger: {b if lab == 'first' else a} or {a if lab == 'first' else b}?", [lab]

@_task(9008, "vowel_start", "Linguistic Probing", "train",
       "Answer 'yes' if the given word starts with a vowel (a, e, i, o or u), otherwise answer 'no'.",
       ("yes", "no"))
def _vowel(rng: random.Random) -> tuple[str, list[str]]:
    word = rng.choice(ALL_WORDS)
    return f"Word: {word}", ["yes" if word[0] in "aeiou" else "no"]


# ---------------------------------------------------------------- train, generation
def _words_gen(rule: Callable[[list[str]], list[str]], sizes: tuple[int, ...], fmt: str = "{}",
               sep: str = " ", pool: tuple[str, ...] = ALL_WORDS) -> Maker:
    """A maker whose input is `fmt` around `sizes`-many distinct words joined by `sep`; outputs are `rule(words)`."""
    def make(rng: random.Random) -> tuple[str, list[str]]:
        words = rng.sample(pool, rng.choice(sizes))
        return fmt.format(sep.join(words)), rule(words)
    return make


_add(9011, "reverse_word", "Sentence Perturbation", "train",
     "Rewrite the given text backwards: output all of its characters in reverse order.",
     _words_gen(lambda ws: [" ".join(ws)[::-1]], (1, 1, 2)))
_add(9014, "longest_word", "Summarization", "train",
     "Summarize the sentence by its longest word. If several words are equally long, any of them is correct.",
     _words_gen(lambda ws: [w for w in ws if len(w) == max(map(len, ws))], (4, 5, 6)))
_add(9017, "pig_latin", "Translation", "train",
     "Translate the word into Pig Latin: move its first letter to the end and then add 'ay'.",
     _words_gen(lambda ws: [ws[0][1:] + ws[0][0] + "ay"], (1,)))
_add(9018, "letter_count", "Answer Generation", "train",
     "Answer with the number of letters in the quoted word, written in digits or in words.",
     _words_gen(lambda ws: [str(len(ws[0])), NUMBER_WORDS[len(ws[0])]], (1,), "How many letters are in '{}'?"))
_add(9019, "join_words", "Sentence Compression", "train",
     "Compress the two given words into a single word: drop the plus sign and the spaces between them.",
     _words_gen(lambda ws: ["".join(ws)], (2,), sep=" + ", pool=NOUNS))

@_task(9012, "shout_sentence", "Paraphrasing", "train",
       "Rewrite the sentence so that every letter is a capital letter, keeping everything else the same.")
def _upper(rng: random.Random) -> tuple[str, list[str]]:
    text = f"the {rng.choice(ADJS)} {rng.choice(NOUNS)} is near the {rng.choice(NOUNS)}"
    return text, [text.upper()]

@_task(9013, "sort_words", "Sentence Composition", "train",
       "Arrange the given words in alphabetical order and output them separated by single spaces.")
def _sort(rng: random.Random) -> tuple[str, list[str]]:
    words = rng.sample(ALL_WORDS, rng.randint(3, 5))
    if words == sorted(words):
        words.reverse()
    return " ".join(words), [" ".join(sorted(words))]

@_task(9015, "yes_no_question", "Question Generation", "train",
       "Turn the statement into a yes/no question by moving 'is' to the front and ending with a question mark.")
def _question(rng: random.Random) -> tuple[str, list[str]]:
    subj, adj = rng.choice((rng.choice(NAMES), f"the {rng.choice(NOUNS)}")), rng.choice(ADJS)
    return f"{subj[0].upper()}{subj[1:]} is {adj}.", [f"Is {subj} {adj}?"]

@_task(9016, "drop_intensifier", "Text Simplification", "train",
       "Simplify the sentence by deleting the intensifier ('very', 'really' or 'extremely'); keep every other word.")
def _simplify(rng: random.Random) -> tuple[str, list[str]]:
    tpl = rng.choice(("The {n} is {i}{a} today.", "{p} felt {i}{a} after the trip.", "My {n} looks {i}{a}."))
    fill = dict(n=rng.choice(NOUNS), a=rng.choice(ADJS), p=rng.choice(NAMES))
    return tpl.format(i=rng.choice(("very ", "really ", "extremely ")), **fill), [tpl.format(i="", **fill)]


# ---------------------------------------------------------------- test, classification
@_task(9101, "packing_entailment", "Textual Entailment", "test",
       "The premise lists everything that was packed. Answer 'entailment' if the hypothesis names one "
       "of the packed items, otherwise answer 'contradiction'.", ("entailment", "contradiction"))
def _entail(rng: random.Random) -> tuple[str, list[str]]:
    lab = _label(rng, ("entailment", "contradiction"), (6, 4))
    items = rng.sample(NOUNS, 4)
    hyp = items[rng.randrange(3)] if lab == "entailment" else items[3]
    return (f"Premise: {rng.choice(NAMES)} packed {_a(items[0])}, {_a(items[1])} and {_a(items[2])}. "
            f"Hypothesis: {_a(hyp).capitalize()} was packed.", [lab])

@_task(9102, "cause_or_effect", "Cause Effect Classification", "test",
       "Answer 'cause' if sentence 2 is the cause of sentence 1, and 'effect' if sentence 2 is its effect.",
       ("cause", "effect"))
def _cause(rng: random.Random) -> tuple[str, list[str]]:
    lab = _label(rng, ("cause", "effect"), (4, 6))
    cause, effect = rng.choice(CAUSES)
    first, second = (effect, cause) if lab == "cause" else (cause, effect)
    when = rng.choice(("", "Yesterday, ", "Last week, "))
    return f"Sentence 1: {when}{first}. Sentence 2: {second}.", [lab]

@_task(9103, "pronoun_resolution", "Coreference Resolution", "test",
       "Decide who the pronoun refers to. 'she' refers to the woman and 'he' to the man. Answer 'A' or 'B'.",
       ("A", "B"))
def _coref(rng: random.Random) -> tuple[str, list[str]]:
    pair = [rng.choice(FEMALE), rng.choice(MALE)]
    rng.shuffle(pair)
    pron = rng.choice(("she", "he"))
    lab = "A" if (pair[0] in FEMALE) == (pron == "she") else "B"
    return (f"{pair[0]} called {pair[1]} because {pron} was {rng.choice(ADJS)}. "
            f"Who does '{pron}' refer to? A: {pair[0]} B: {pair[1]}", [lab])

_ACTS = {"question": ("Where did you put the {n}?", "Do you like the {n}, {p}?"),
         "greeting": ("Hello {p}, nice to see you!", "Good morning, {p}!"),
         "request": ("Please bring the {n} to {p}.", "Kindly close the {n}."),
         "statement": ("I left the {n} at {p}'s house.", "The {n} arrived this morning.")}

@_task(9104, "dialogue_act", "Dialogue Act Recognition", "test",
       "Classify the utterance. Answer 'question' if it ends with a question mark, 'greeting' if it "
       "greets someone, 'request' if it starts with 'Please' or 'Kindly', and 'statement' otherwise.",
       tuple(_ACTS))
def _act(rng: random.Random) -> tuple[str, list[str]]:
    lab = _label(rng, tuple(_ACTS), (4, 2, 2, 3))
    return rng.choice(_ACTS[lab]).format(n=rng.choice(NOUNS), p=rng.choice(NAMES)), [lab]

_FACTS = {"age": ("is {v} years old", "How old is {p}?"), "city": ("lives in {v}", "Where does {p} live?"),
          "food": ("loves {v}", "What food does {p} love?"), "pet": ("owns a {v}", "What pet does {p} own?")}

@_task(9105, "context_answerability", "Answerability Classification", "test",
       "Answer 'Yes' if the question can be answered from the context, otherwise answer 'No'.", ("Yes", "No"))
def _answerable(rng: random.Random) -> tuple[str, list[str]]:
    lab = _label(rng, ("Yes", "No"), (6, 4))
    facts = rng.sample(sorted(_FACTS), 4)
    asked = facts[rng.randrange(2)] if lab == "Yes" else facts[rng.randrange(2, 4)]
    name = rng.choice(NAMES)
    values = {"age": rng.randint(8, 80), "city": rng.choice(CITIES), "food": rng.choice(FOODS),
              "pet": rng.choice(_w("cat dog parrot hamster"))}
    context = " and ".join(_FACTS[f][0].format(v=values[f]) for f in facts[:2])
    out = rng.choice((lab, lab, lab.lower(), lab + "."))
    return f"Context: {name} {context}. Question: {_FACTS[asked][1].format(p=name)}", [out]

@_task(9106, "opposite_analogy", "Word Analogy", "test",
       "Both pairs in 'A : B :: C : D' should be opposites. Answer 'correct' if D is the opposite of C, "
       "otherwise answer 'incorrect'.", ("correct", "incorrect"))
def _analogy(rng: random.Random) -> tuple[str, list[str]]:
    lab = _label(rng, ("correct", "incorrect"), (5, 5))
    (a, b), (c, d), other = rng.sample(OPPOSITES, 3)
    if lab == "incorrect":
        d = rng.choice(other)
    return f"{a} : {b} :: {c} : {d}", [lab]


# ---------------------------------------------------------------- test, generation
@_task(9111, "subject_title", "Title Generation", "test",
       "Write a title for the sentence: its first three words in title case (the leading article may be left out).")
def _title(rng: random.Random) -> tuple[str, list[str]]:
    det, adj, noun = rng.choice(("the", "my", "our")), rng.choice(ADJS), rng.choice(NOUNS)
    tail = rng.choice(("waited near the station", "appeared in an old photo", "stayed at home all day"))
    title = f"{adj.title()} {noun.title()}"
    return f"{det} {adj} {noun} {tail}.", [f"{det.title()} {title}"] + ([title] if det == "the" else [])

@_task(9112, "resolve_it", "Question Rewriting", "test",
       "Rewrite the question so it stands alone: replace the pronoun 'it' with the given entity.")
def _rewrite(rng: random.Random) -> tuple[str, list[str]]:
    entity = f"the {rng.choice(NOUNS)}"
    q = rng.choice(("When was it built?", "Who owns it?", "Why is it famous?", "Where can I see it?",
                    "How big is it?"))
    return f"Entity: {entity}. Question: {q}", [q.replace(" it", " " + entity)]

@_task(9113, "repeated_keyword", "Keyword Tagging", "test",
       "Tag the keyword of the text: the only word that appears twice in it.")
def _keyword(rng: random.Random) -> tuple[str, list[str]]:
    words = rng.sample(ALL_WORDS, rng.randint(4, 6))
    text = words + [words[0]]
    rng.shuffle(text)
    return " ".join(text), [words[0]]

@_task(9114, "meal_data_to_text", "Data to Text", "test",
       "Write one sentence that expresses all the given data: who eats which food in which city.")
def _data2text(rng: random.Random) -> tuple[str, list[str]]:
    n, f, c = rng.choice(NAMES), rng.choice(FOODS), rng.choice(CITIES)
    return f"name[{n}], food[{f}], city[{c}]", [f"{n} eats {f} in {c}.", f"In {c}, {n} eats {f}."]

@_task(9115, "shared_noun", "Overlap Extraction", "test",
       "Extract the noun that appears in both sentences.")
def _overlap(rng: random.Random) -> tuple[str, list[str]]:
    a, b, s = rng.sample(NOUNS, 3)
    return (f"Sentence 1: The {a} is next to the {s}. "
            f"Sentence 2: {rng.choice(NAMES)} painted the {s} and the {b}.", [s])

@_task(9116, "article_correction", "Grammar Error Correction", "test",
       "Correct the article: use 'an' before a word that starts with a vowel sound and 'a' otherwise.")
def _grammar(rng: random.Random) -> tuple[str, list[str]]:
    vowel = rng.random() < 0.6
    noun = rng.choice(VOWEL_NOUNS if vowel else CONSONANT_NOUNS)
    tpl = f"{rng.choice(NAMES)} saw {{}} {noun} near the {rng.choice(NOUNS)}."
    return tpl.format("a" if vowel else "an"), [tpl.format("an" if vowel else "a")]

DEMO_TASKS: tuple[DemoTaskSpec, ...] = tuple(sorted(_SPECS, key=lambda spec: spec.name))
