"""Keep a seeded random sample of a cosmic-ray session's mutants and drop the rest (before `cosmic-ray exec`).

    python tools/mutation/sample_session.py SESSION.sqlite N SEED

cosmic-ray names its jobs with fresh random ids, so the mutants are first put in source order (line, column,
operator, occurrence): the same N and SEED then pick the same mutants from the same source. Used when a full
run does not fit the time at hand; the README says which runs were samples.
"""
import random
import sqlite3
import sys


def main(session, count, seed):
    db = sqlite3.connect(session)
    rows = db.execute("SELECT job_id, start_pos_row, start_pos_col, operator_name, occurrence FROM mutation_specs").fetchall()
    ordered = sorted(rows, key=lambda row: row[1:])
    keep = {row[0] for row in random.Random(seed).sample(ordered, min(count, len(ordered)))}
    drop = [(row[0],) for row in ordered if row[0] not in keep]
    db.executemany("DELETE FROM mutation_specs WHERE job_id = ?", drop)
    db.executemany("DELETE FROM work_items WHERE job_id = ?", drop)
    db.commit()
    print(f"kept {len(keep)} of {len(ordered)} mutants (seed {seed})")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
