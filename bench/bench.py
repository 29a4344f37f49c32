"""The startwell benchmark (run it with bench/run.sh).

Generates a national-size synthetic project, times `startwell run` (each ingest
source from the run record, and the scorecard), the no-op run and a forced
scorecard, with peak memory of each process; then computes the core indicators
with DuckDB over the same Delta tables (its own process, timed the same way)
and checks DuckDB's counts against the published scorecard.

The DuckDB reference runs the project's own view and indicator SQL (DuckDB
macros stand in for startwell's SQL functions), with the catalogue's families
expanded, breakdowns by GROUPING SETS and Wilson intervals computed in SQL.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path

BREAKDOWN_SQL = {
    "sex": "CASE sex WHEN 'M' THEN 'Boys' WHEN 'F' THEN 'Girls' END",
    "fsm": "CASE WHEN fsm THEN 'FSM' WHEN NOT fsm THEN 'Not FSM' END",
    "fsm_sex": "CASE WHEN fsm AND sex = 'M' THEN 'FSM boys' WHEN fsm AND sex = 'F' THEN 'FSM girls' "
    "WHEN NOT fsm AND sex = 'M' THEN 'Not FSM boys' WHEN NOT fsm AND sex = 'F' THEN 'Not FSM girls' END",
    "sen": "CASE sen_provision WHEN 'none' THEN 'No SEN' WHEN 'sen_support' THEN 'SEN support' "
    "WHEN 'ehc_plan' THEN 'EHC plan' END",
    "looked_after": "CASE WHEN looked_after THEN 'Looked after' WHEN NOT looked_after THEN 'Not looked after' END",
    "ethnicity": "ethnic_group",
    "first_language": "CASE first_language WHEN 'english' THEN 'English' WHEN 'other' THEN 'Other than English' END",
    "imd_quintile": "CASE imd_quintile WHEN 1 THEN '1 (most deprived)' WHEN 5 THEN '5 (least deprived)' "
    "ELSE CAST(imd_quintile AS VARCHAR) END",
}

# startwell's SQL functions, as DuckDB macros.
MACROS = """
CREATE MACRO fy_year(d) AS CASE WHEN month(d) >= 4 THEN year(d) ELSE year(d) - 1 END;
CREATE MACRO fy_quarter(d) AS printf('%d-%02d-Q%d', fy_year(d), (fy_year(d) + 1) % 100, ((month(d) + 8) % 12) // 3 + 1);
CREATE MACRO add_days(d, n) AS CAST(d + CAST(n AS INTEGER) AS DATE);
CREATE MACRO add_months(d, n) AS CAST(d + to_months(CAST(n AS INTEGER)) AS DATE);
CREATE MACRO arrow_cast(x, t) AS x;
CREATE MACRO in_part(k) AS true;
CREATE MACRO key128(k) AS CASE WHEN regexp_full_match(k, '[0-9a-f]{64}') THEN unhex(substr(k, 1, 32)) ELSE encode(k) END;
"""

# The core indicators: every school-readiness and health-visiting indicator but
# the gaps (differences of published rows), and the 2-year-old take-up.
CORE = ("school_readiness", "health_visiting")
CORE_EXTRA = ("cc_2yo_takeup",)


def run_measured(cmd, env):
    """Run `cmd`: its wall seconds and the peak resident memory (MiB) of that process (wait4)."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(err.decode(errors="replace")[-4000:])
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}")
    return seconds, usage.ru_maxrss / 1024


def period_label(key):
    """A period key as the scorecard's `period` shows it: 2024-25 → 2024/25,
    2024-25-Q1 → 2024/25 Q1, 2024-autumn → Autumn 2024, 2024-spring → Spring 2025."""
    parts = key.split("-")
    if len(parts) == 2 and parts[1].isdigit():
        return f"{parts[0]}/{parts[1]}"
    if len(parts) == 3:
        return f"{parts[0]}/{parts[1]} {parts[2]}"
    year = int(parts[0]) + (parts[1] != "autumn")  # spring and summer: the next calendar year
    return f"{parts[1].capitalize()} {year}"


def latest_record(data):
    runs = [json.loads(p.read_text()) for p in (data / "state" / "runs").glob("*.json")]
    return max(runs, key=lambda r: r["started_at"])


def expand_catalogue(path):
    """The catalogue's indicators, families expanded and domain defaults applied."""
    raw = tomllib.loads(path.read_text())
    entries = list(raw.get("indicator", []))

    def fill(v, values):
        if isinstance(v, str):
            for k, x in values.items():
                if v == "{" + k + "}":
                    return x
            for k, x in values.items():
                parts = v.split("{{" + k + "}}")
                v = ("{{" + k + "}}").join(p.replace("{" + k + "}", str(x)) for p in parts)
            return v
        if isinstance(v, list):
            return [fill(x, values) for x in v]
        if isinstance(v, dict):
            return {k: fill(x, values) for k, x in v.items()}
        return v

    for fam in raw.get("family", []):
        template = {k: v for k, v in fam.items() if k != "members"}
        entries.extend(fill(template, m) for m in fam["members"])
    out = []
    for e in entries:
        d = dict(raw.get("defaults", {}).get(e["domain"], {}))
        if e.get("kind") == "gap":
            d.pop("breakdowns", None)
            d.pop("series_start", None)
        d.update(e)
        out.append(d)
    return out


def words(sql):
    """The names an SQL text mentions (comments left out)."""
    import re

    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", re.sub(r"--[^\n]*", "", sql)))


def scattered(sql):
    """Whether startwell scatters this view: it calls in_part and only projects and
    filters one table (no join, grouping, DISTINCT, window, set operation or order)."""
    import re

    text = re.sub(r"--[^\n]*", "", sql).upper()
    heavy = r"\b(JOIN|GROUP\s+BY|DISTINCT|OVER|WINDOW|UNION|INTERSECT|EXCEPT|ORDER\s+BY|WITH)\b"
    return "IN_PART(" in text.replace(" ", "") and not re.search(heavy, text) and len(re.findall(r"\bFROM\b", text)) == 1


def ordered_views(folder, needed_by):
    """The view files that the SQL texts `needed_by` read, directly or through other
    views, each after the views it reads (as startwell orders them). A view no core
    indicator reads is not computed: the reference does only the core's work."""
    views = {v.stem: v for v in sorted(folder.glob("*.sql"))}
    reads = {n: (words(v.read_text()) & views.keys()) - {n} for n, v in views.items()}
    needed, todo = set(), [w for sql in needed_by for w in words(sql) if w in views]
    while todo:
        n = todo.pop()
        if n not in needed:
            needed.add(n)
            todo.extend(reads[n])
    pending = [views[n] for n in sorted(needed)]
    done = []
    while pending:
        v = next(v for v in pending if reads[v.stem] <= {d.stem for d in done})
        pending.remove(v)
        done.append(v)
    return done


def duckdb_reference(lake, ind_dir, council, out_path):
    """Compute the core indicators with DuckDB; write their counts as JSON."""
    import duckdb
    from deltalake import DeltaTable

    con = duckdb.connect()
    for t in sorted(p for p in lake.iterdir() if (p / "_delta_log").is_dir()):
        files = DeltaTable(str(t)).file_uris()
        if not files:
            continue
        lst = ", ".join(f"'{f}'" for f in files)
        con.execute(
            f"CREATE VIEW {t.name} AS SELECT * FROM read_parquet([{lst}], hive_partitioning = true, "
            f"hive_types_autocast = false, union_by_name = true)"
        )
    con.execute(MACROS)

    def render(sql):
        return (
            sql.replace("{{la_code}}", council["area_code"])
            .replace("{{la_name}}", council["name"])
            .replace("{{region_code}}", council.get("region_code", ""))
            .replace("{{comparators}}", ", ".join(f"'{c}'" for c in council.get("comparators", [])) or "''")
            .strip()
            .rstrip(";")
        )

    catalogue = [
        i
        for i in expand_catalogue(ind_dir / "catalogue.toml")
        if i.get("kind") != "gap" and (i["domain"] in CORE or i["id"] in CORE_EXTRA)
    ]
    groups = {}
    for i in catalogue:
        if "from" in i:
            groups.setdefault(i["from"], []).append(i)
        else:
            sql = render((ind_dir / i.get("sql", i["id"] + ".sql")).read_text())
            for k, v in i.get("params", {}).items():
                sql = sql.replace("{{" + k + "}}", v)
            groups[f"({sql}) AS indicator_rows"] = [dict(i, numerator="numerator", denominator="denominator")]

    for v in ordered_views(ind_dir / "views", list(groups)):
        sql = render(v.read_text())
        # A view startwell scatters into parts (it calls in_part and only projects
        # and filters one table) is a narrowed copy that saves startwell decoding
        # each key once a part; DuckDB, computing in one part, does better reading
        # the table in each view that reads it (1-2 s better at national size), so
        # it plans it in. Every other view is computed once, as startwell does.
        kind = "VIEW" if scattered(sql) else "TABLE"
        con.execute(f"CREATE {kind} {v.stem} AS {sql}")
    results = []
    for source, inds in groups.items():
        keys, ward = [], False
        for i in inds:
            for b in i.get("breakdowns", []):
                if b == "ward":
                    ward = True
                elif b not in keys:
                    keys.append(b)
        cols = ["CAST(period AS VARCHAR) AS period"] + [f"CAST({BREAKDOWN_SQL[b]} AS VARCHAR) AS k{n}" for n, b in enumerate(keys)]
        if ward:
            cols.append("ward_code, ward_name")
        sums = []
        for j, i in enumerate(inds):
            f = i.get("filter")
            w = (lambda e: f"CASE WHEN ({f}) THEN {e} END") if f else (lambda e: e)
            cols.append(f"{w(i['numerator'])} AS n{j}, {w(i.get('denominator', '1'))} AS d{j}, {w('1')} AS c{j}")
            sums.append(f"SUM(n{j}) AS n{j}, SUM(d{j}) AS d{j}, COUNT(c{j}) AS c{j}")
        sets = ["(period)"] + [f"(period, k{n})" for n in range(len(keys))] + (["(period, ward_code)"] if ward else [])
        sel = ["period"] + [f"k{n}, GROUPING(k{n}) AS g{n}" for n in range(len(keys))]
        if ward:
            sel.append("ward_code, MAX(ward_name) AS ward_name, GROUPING(ward_code) AS g_ward")
        z = 1.959963984540054
        wilson = []
        for j in range(len(inds)):
            x, n = f"CAST(n{j} AS DOUBLE)", f"CAST(d{j} AS DOUBLE)"
            centre, half = f"({x} + {z}^2 / 2)", f"{z} * sqrt({x} * ({n} - {x}) / {n} + {z}^2 / 4)"
            ok = f"d{j} > 0 AND n{j} <= d{j}"
            wilson.append(
                f"CASE WHEN {ok} THEN 100 * ({centre} - {half}) / ({n} + {z}^2) END AS l{j}, "
                f"CASE WHEN {ok} THEN 100 * ({centre} + {half}) / ({n} + {z}^2) END AS u{j}"
            )
        q = (
            f"WITH facts AS (SELECT {', '.join(cols)} FROM {source}), "
            f"g AS (SELECT {', '.join(sel + sums)} FROM facts GROUP BY GROUPING SETS ({', '.join(sets)})) "
            f"SELECT *, {', '.join(wilson)} FROM g"
        )
        rel = con.execute(q)
        names = [d[0] for d in rel.description]
        for row in rel.fetchall():
            r = dict(zip(names, row))
            if r["period"] is None:
                continue
            area_type, area_code, bd, bv = "local_authority", council["area_code"], "all", "All"
            if ward and r["g_ward"] == 0:
                if r["ward_code"] is None:
                    continue
                area_type, area_code = "ward", r["ward_code"]
            for n, b in enumerate(keys):
                if r[f"g{n}"] == 0:
                    bd, bv = b, r[f"k{n}"]
            if bv is None:
                continue
            for j, i in enumerate(inds):
                if r[f"c{j}"] == 0:
                    continue
                if bd != "all" and bd not in i.get("breakdowns", []):
                    continue
                if area_type == "ward" and "ward" not in i.get("breakdowns", []):
                    continue
                results.append(
                    [i["id"], r["period"], area_type, area_code, bd, bv, int(r[f"n{j}"]), int(r[f"d{j}"]),
                     r[f"l{j}"] if i.get("kind", "proportion") == "proportion" else None]
                )
    Path(out_path).write_text(json.dumps(results))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--children", type=int, default=600000)
    ap.add_argument("--years", type=int, default=1)
    ap.add_argument("--work", required=True)
    ap.add_argument("--repeat", type=int, default=3, help="forced scorecard and DuckDB runs, alternately")
    ap.add_argument("--duckdb-only", nargs=4, metavar=("LAKE", "INDICATORS", "COUNCIL_JSON", "OUT"))
    a = ap.parse_args()
    if a.duckdb_only:
        lake, ind, council, out = a.duckdb_only
        duckdb_reference(Path(lake), Path(ind), json.loads(council), out)
        return

    work = Path(a.work)
    proj = work / "project"
    if proj.exists():
        shutil.rmtree(proj)
    proj.mkdir(parents=True)
    src = Path(a.project)
    for item in ("startwell.toml", "pipelines", "schemas", "seeds"):
        (shutil.copytree if (src / item).is_dir() else shutil.copy)(src / item, proj / item)
    env = dict(os.environ)
    env.setdefault("STARTWELL_HMAC_KEY", "bench-key-" + "0" * 32)
    sw = [a.binary]
    data = proj / "data"
    print(f"startwell benchmark: {a.children:,} children per birth year, {a.years} year(s), in {proj}")

    s, m = run_measured(sw + ["generate", "--project", str(proj), "--out", str(data / "landing"), "--children", str(a.children), "--years", str(a.years)], env)
    print(f"generate          {s:8.1f} s  {m:7.0f} MiB peak")

    s, m = run_measured(sw + ["run", "--project", str(proj), "--log-format", "json"], env)
    rec = latest_record(data)
    print(f"run (first)       {s:8.1f} s  {m:7.0f} MiB peak")
    for src_ in rec["sources"]:
        rate = src_["rows_read"] / src_["seconds"] if src_["seconds"] > 0 else 0
        print(f"  ingest {src_['source']:<32} {src_['rows_read']:>10,} rows {src_['seconds']:7.1f} s {rate:>12,.0f} rows/s")
    print(f"  scorecard {rec['scorecard_rows']:,} rows {rec['scorecard_seconds']:.1f} s")

    s, m = run_measured(sw + ["run", "--project", str(proj), "--log-format", "json"], env)
    rec = latest_record(data)
    assert rec.get("no_changes_since"), "the second run should find nothing new"
    print(f"run (no changes)  {s:8.2f} s  {m:7.0f} MiB peak")

    # The forced scorecard and DuckDB's reference, alternately `--repeat` times: this
    # machine's speed drifts by 10% and more between minutes, so one run of each
    # cannot tell "no slower"; the ratio is of the medians.
    council = tomllib.loads((proj / "startwell.toml").read_text())["council"]
    out = work / "duckdb_counts.json"
    ours_runs, duck_runs = [], []
    for k in range(a.repeat):
        s, m = run_measured(sw + ["run", "--project", str(proj), "--force-scorecard", "--log-format", "json"], env)
        rec = latest_record(data)
        ours_runs.append(rec["scorecard_seconds"])
        print(f"run (forced)      {s:8.1f} s  {m:7.0f} MiB peak; scorecard stage {rec['scorecard_seconds']:.1f} s")
        ds, dm = run_measured(
            [sys.executable, __file__, "--binary", a.binary, "--project", str(proj), "--work", str(work),
             "--duckdb-only", str(data / "lake"), str(proj / "pipelines" / "indicators"), json.dumps(council), str(out)],
            env,
        )
        duck_runs.append(ds)
        ref = json.loads(out.read_text())
        ids = sorted({r[0] for r in ref})
        print(f"duckdb reference  {ds:8.1f} s  {dm:7.0f} MiB peak; {len(ids)} core indicators, {len(ref):,} rows")
    ours, ds = statistics.median(ours_runs), statistics.median(duck_runs)

    # DuckDB's counts against the published scorecard (rows published with figures).
    import duckdb

    pub = {}
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{data / 'outputs' / 'scorecard.parquet'}')")
    names = [d[0] for d in rel.description]
    for r in (dict(zip(names, row)) for row in rel.fetchall()):
        key = (r["indicator_id"], r["period"], r["area_type"], r["area_code"], r["breakdown"], r["breakdown_value"])
        pub[key] = r
    same = differ = withheld = missing = 0
    for i, p, at, ac, bd, bv, x, n, lower in ref:
        r = pub.get((i, period_label(p), at, ac, bd, bv))
        if r is None:
            missing += 1
            if missing <= 5:
                print("  not published:", (i, p, at, ac, bd, bv), "duckdb", (x, n))
        elif r["numerator"] is None:
            withheld += 1
        elif (r["numerator"], r["denominator"] if r["unit"] != "count" else n) == (x, n) and (
            lower is None or not 0 < x < n or abs(lower - r["lower_95"]) < 1e-6
        ):
            same += 1
        else:
            differ += 1
            if differ <= 5:
                print("  differs:", (i, p, at, ac, bd, bv), "duckdb", (x, n), "published", (r["numerator"], r["denominator"], r["lower_95"]), "duckdb lower", lower)
    print(f"  counts: {same:,} equal, {differ} differ, {withheld:,} withheld by disclosure control or as x, {missing} not published")
    print(
        f"scorecard stage / duckdb reference: {ours / ds:.2f} "
        f"(medians of {a.repeat}: {ours:.1f} s / {ds:.1f} s)"
    )
    if differ or missing:
        raise SystemExit("DuckDB and startwell disagree")


if __name__ == "__main__":
    main()
