"""clemcore's way of looking a model up, timed: used by bench/cli.ts as the baseline of `resolve --queries`.

What clemcore's ModelRegistry does per query (clemcore/backends/model_registry.py): every registered spec in order
(each tagged with its lookup_source when loaded), unified with the query by nltk's feature-structure unification on
the two specs' attribute dicts; a spec that does not unify raises a ValueError whose message prints both specs, which
the loop catches before it tries the next; the first that unifies is wrapped in a new spec object. This script does
the same work with its own small spec class, so that the figure is clemcore's lookup and not nltk's unify alone
(which is also timed and printed, as `unify_seconds`, for comparison).

Usage: python3 clemcore-lookup.py REGISTRY.json QUERIES.txt STEP
Times every STEP-th query (one JSON object per line) and prints
{"seconds": ..., "unify_seconds": ..., "timed": ..., "matched": ...}.
Needs nltk (Debian: apt-get install python3-nltk).
"""

import json
import sys
import time
from types import SimpleNamespace

from nltk.featstruct import unify
from nltk.sem.logic import Variable


def with_variables(value):
    """"?name" strings become nltk variables, as clemplay reads them; everything else stays as it is."""
    if isinstance(value, dict):
        return {key: with_variables(item) for key, item in value.items()}
    if isinstance(value, list):
        return [with_variables(item) for item in value]
    if isinstance(value, str) and value.startswith("?") and len(value) > 1:
        return Variable(value)
    return value


class Spec(SimpleNamespace):
    """A model spec as clemcore holds one: a namespace whose attributes are the spec's keys."""

    def unify(self, other):
        result = unify(self.__dict__, other.__dict__)
        if result is None:
            raise ValueError(f"{self.__dict__} does not unify with {other.__dict__}")
        return Spec(**result)


def first_spec(query, specs):
    """clemcore's lookup: the first registered spec that unifies, trying each in order."""
    for spec in specs:
        try:
            return query.unify(spec)
        except ValueError:
            continue
    return None


def first_unified(query, entries):
    """nltk's unification alone over the same entries, without clemcore's spec objects and errors."""
    for entry in entries:
        result = unify(query, entry)
        if result is not None:
            return result
    return None


def main():
    registry_path, queries_path, step = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(registry_path, encoding="utf-8") as file:
        entries = [with_variables(entry) for entry in json.load(file)]
    for entry in entries:
        entry.setdefault("lookup_source", registry_path)
    specs = [Spec(**entry) for entry in entries]
    with open(queries_path, encoding="utf-8") as file:
        queries = [with_variables(json.loads(line)) for line in file if line.strip()]
    timed = queries[::step]

    started = time.perf_counter()
    matched = sum(1 for query in timed if first_spec(Spec(**query), specs) is not None)
    seconds = time.perf_counter() - started

    started = time.perf_counter()
    unified = sum(1 for query in timed if first_unified(query, entries) is not None)
    unify_seconds = time.perf_counter() - started
    if unified != matched:
        raise SystemExit(f"nltk alone matched {unified} queries, clemcore's lookup {matched}")
    print(json.dumps({"seconds": seconds, "unify_seconds": unify_seconds, "timed": len(timed), "matched": matched}))


if __name__ == "__main__":
    main()
