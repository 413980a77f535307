"""clemcore's way of looking a model up, timed: every registry entry in order, unified with the query by nltk's
feature-structure unification, until one unifies. Used by bench/cli.ts as the baseline of `resolve --queries`.

Usage: python3 clemcore-lookup.py REGISTRY.json QUERIES.txt STEP
Times every STEP-th query (one JSON object per line) and prints {"seconds": ..., "timed": ..., "matched": ...}.
Needs nltk (Debian: apt-get install python3-nltk).
"""

import json
import sys
import time

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


def first_match(query, entries):
    for entry in entries:
        result = unify(query, entry)
        if result is not None:
            return result
    return None


def main():
    registry_path, queries_path, step = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(registry_path, encoding="utf-8") as file:
        entries = [with_variables(entry) for entry in json.load(file)]
    with open(queries_path, encoding="utf-8") as file:
        queries = [with_variables(json.loads(line)) for line in file if line.strip()]
    timed = queries[::step]
    started = time.perf_counter()
    matched = sum(1 for query in timed if first_match(query, entries) is not None)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "timed": len(timed), "matched": matched}))


if __name__ == "__main__":
    main()
