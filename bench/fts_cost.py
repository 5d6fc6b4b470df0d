#!/usr/bin/env python3
"""CPU time of the document-level FTS5 search, per query, on a jrvs database (read-only): the
query as it was (bm25, join and snippet() for every matching row), as it is (ranking in a
subquery, then join and snippet() for the best rows; src/store/sqlite_store_search.cc), the
ranking alone, and a count of the matches (what the FTS planner's document-frequency lookup
costs). Each term is searched with a rowid floor of 0 and of each --floor.

  bench/fts_cost.py DATA_DIR/jrvs.db --term java --term code --floor 7000
"""
import argparse
import sqlite3
import time

OLD = ("SELECT f.rowid, bm25(documents_fts, 2.0, 1.0) AS score, d.title, d.url,"
       " snippet(documents_fts, 1, '', '', '...', 24) FROM documents_fts f"
       " JOIN documents d ON d.id = f.rowid WHERE documents_fts MATCH ?1 AND f.rowid >= ?2"
       " ORDER BY score LIMIT 5")
NEW = ("WITH top AS (SELECT rowid AS id, bm25(documents_fts, 2.0, 1.0) AS score"
       " FROM documents_fts WHERE documents_fts MATCH ?1 AND rowid >= ?2 ORDER BY score LIMIT 5)"
       " SELECT top.id, top.score, d.title, d.url, snippet(documents_fts, 1, '', '', '...', 24)"
       " FROM top JOIN documents_fts f ON f.rowid = top.id JOIN documents d ON d.id = top.id"
       " WHERE documents_fts MATCH ?1 ORDER BY top.score, top.id")
RANK = ("SELECT rowid, bm25(documents_fts, 2.0, 1.0) AS score FROM documents_fts"
        " WHERE documents_fts MATCH ?1 AND rowid >= ?2 ORDER BY score LIMIT 5")
COUNT = "SELECT count(*) FROM documents_fts WHERE documents_fts MATCH ?1 AND rowid >= ?2"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("db")
    ap.add_argument("--term", action="append", required=True)
    ap.add_argument("--floor", type=int, action="append", default=[])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    db = sqlite3.connect("file:%s?mode=ro" % args.db, uri=True)
    for term in args.term:
        match = '"%s"' % term.replace('"', '""')
        df = db.execute(COUNT, (match, 0)).fetchone()[0]
        for floor in [0] + args.floor:
            for name, sql in (("old", OLD), ("new", NEW), ("rank", RANK), ("count", COUNT)):
                db.execute(sql, (match, floor)).fetchall()  # warm the page cache
                start = time.process_time()
                for _ in range(args.repeat):
                    db.execute(sql, (match, floor)).fetchall()
                ms = (time.process_time() - start) / args.repeat * 1000
                print("%-12s df %6d floor %7d %-5s %7.2f ms CPU" % (term, df, floor, name, ms))


if __name__ == "__main__":
    main()
