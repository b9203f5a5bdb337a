"""A seeded random sample of StrykerJS mutants, for when a full run does not fit the time at hand.

    python tools/mutation/stryker_sample.py list CONFIG.json LIST_CONFIG.json   (then: npx stryker run LIST_CONFIG.json)
    python tools/mutation/stryker_sample.py pick LIST.json CONFIG.json N SEED OUT_CONFIG.json [FILE ...]
    python tools/mutation/stryker_sample.py survivors SAMPLE_CONFIG.json REPORT.json CONFIG.json RERUN_CONFIG.json [EARLIER_RERUN_REPORT.json ...]
    python tools/mutation/stryker_sample.py score SAMPLE_CONFIG.json REPORT.json [RERUN_REPORT.json ...]

`list` writes a copy of CONFIG.json whose command is `true` and whose JSON report is the config's report name
with -list; run it (a minute: every mutant "survives" at once) to get LIST.json, every mutant with its id and
place. `pick` draws N mutants that are not Ignored (and are in the FILEs, if named) with SEED, in file, line,
column, mutator order, so the same source gives the same sample. OUT_CONFIG.json is CONFIG.json whose command
goes through tools/mutation/stryker_sampled.sh: Stryker still places every mutant (same source, same ids), but
only the drawn ids (OUT_CONFIG.json with .ids for .config.json) run the tests; the others "survive" at once.
`survivors` (after tests were added) writes RERUN_CONFIG.json: the drawn mutants that REPORT.json has alive, run
with CONFIG.json's (new) command. `score` counts only the drawn mutants, matched by file, place, mutator and
replacement; one killed in any of the reports counts as killed (adding tests cannot revive a mutant).
"""
import json
import random
import sys


def key(file, mutant):  # what identifies a mutant across runs of the same source
    where = mutant["location"]
    return (file, where["start"]["line"], where["start"]["column"], where["end"]["line"], where["end"]["column"],
            mutant["mutatorName"], mutant.get("replacement", ""))


def listing_config(config, out):
    settings = json.load(open(config))
    settings["commandRunner"]["command"] = "true"
    settings["reporters"] = ["json"]
    settings["jsonReporter"]["fileName"] = settings["jsonReporter"]["fileName"].replace(".json", "-list.json")
    json.dump(settings, open(out, "w"), indent=2, ensure_ascii=False)
    print(f"npx stryker run {out}  # then pick from {settings['jsonReporter']['fileName']}")


def pick(listing, config, count, seed, out, files=()):
    report = json.load(open(listing))
    candidates = sorted(key(file, m) for file, data in report["files"].items() for m in data["mutants"]
                        if m["status"] != "Ignored" and (not files or file in files))
    ids = {key(file, m): m["id"] for file, data in report["files"].items() for m in data["mutants"]}
    chosen = sorted(random.Random(seed).sample(candidates, min(count, len(candidates))))
    ids_file = out.removesuffix(".json").removesuffix(".config") + ".ids"
    with open(ids_file, "w") as listing_out:
        listing_out.write("".join(f"{ids[k]}\n" for k in chosen))
    settings = json.load(open(config))
    command = settings["commandRunner"]["command"]
    assert "'" not in command, "the test command goes inside single quotes"
    settings["commandRunner"]["command"] = f"sh tools/mutation/stryker_sampled.sh {ids_file} '{command}'"
    settings["_sample"] = {"seed": seed, "drawn": len(chosen), "of": len(candidates), "mutants": chosen}
    settings["jsonReporter"]["fileName"] = settings["jsonReporter"]["fileName"].replace(".json", "-sample.json")
    json.dump(settings, open(out, "w"), indent=2, ensure_ascii=False)
    print(f"drew {len(chosen)} of {len(candidates)} mutants (seed {seed}) into {out}")


def drawn_in(report_file, wanted):
    report = json.load(open(report_file))
    return {key(file, m): m for file, data in report["files"].items() for m in data["mutants"] if key(file, m) in wanted}


def survivors(sample_config, report_file, config, out, *later_reports):  # later reports: earlier reruns
    settings = json.load(open(sample_config))
    wanted = {tuple(k) for k in settings["_sample"]["mutants"]}
    killed = {k for report in later_reports for k, m in drawn_in(report, wanted).items() if m["status"] in KILLED}
    alive = sorted((m["id"] for k, m in drawn_in(report_file, wanted).items() if m["status"] not in KILLED and k not in killed),
                   key=int)
    ids_file = out.removesuffix(".json").removesuffix(".config") + ".ids"
    with open(ids_file, "w") as listing_out:
        listing_out.write("".join(f"{i}\n" for i in alive))
    command = json.load(open(config))["commandRunner"]["command"]
    settings["commandRunner"]["command"] = f"sh tools/mutation/stryker_sampled.sh {ids_file} '{command}'"
    settings["jsonReporter"]["fileName"] = settings["jsonReporter"]["fileName"].replace(
        "-sample.json", f"-rerun{len(later_reports) + 1}.json")
    json.dump(settings, open(out, "w"), indent=2, ensure_ascii=False)
    print(f"{len(alive)} survivors to rerun: npx stryker run {out}")


KILLED = ("Killed", "Timeout")


def score(sample_config, *report_files):
    sample = json.load(open(sample_config))["_sample"]
    wanted = {tuple(k) for k in sample["mutants"]}
    reports = [drawn_in(report_file, wanted) for report_file in report_files]
    ids = {line.strip() for line in open(sample_config.removesuffix(".json").removesuffix(".config") + ".ids")}
    assert {m["id"] for m in reports[0].values()} == ids, "mutant ids moved: the source changed since `pick`"
    per_file = {}
    for k in sorted(wanted):
        statuses = [found[k]["status"] if k in found else "missing" for found in reports]
        status = next((s for s in statuses if s in KILLED), statuses[0])
        per_file.setdefault(k[0], []).append(status)
        if status not in KILLED:
            print(status, k)
    for file, statuses in sorted(per_file.items()) + [("all", sum(per_file.values(), []))]:
        killed = sum(s in KILLED for s in statuses)
        print(f"{file}: {killed} of {len(statuses)} killed ({100 * killed / len(statuses):.1f} %)")


if __name__ == "__main__":
    if sys.argv[1] == "list":
        listing_config(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "pick":
        pick(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7:])
    elif sys.argv[1] == "survivors":
        survivors(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], *sys.argv[6:])
    else:
        score(sys.argv[2], *sys.argv[3:])
