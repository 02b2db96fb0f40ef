"""SYNTHETIC permit execution reports (排污许可证执行报告, 实际排放量) for the sample enterprises.

Called by `generate.py` (standard library only, deterministic: no randomness, every "random"
choice is derived from SHA-256 of a fixed key). From the exact per-row emissions that
`generate.py` computes independently of npsc, it writes `permit_reports.csv` (Chinese headers, as
permit officers' files are) and returns the sections that `generate.py` appends to `EXPECTED.md`
and `README.md`.

What the reports look like:
- 主要排放口 (main outlets) of the large slaughterhouses (COD, 氨氮) and of the larger boilers
  (SO2, NOx) report **quarterly** from **automatic monitoring**, with the quarter's valid-data
  capture rate (有效数据捕集率, mostly 90–99.5 %) and the outlet's annual permitted quantity
  (许可排放量) repeated on each quarter's line;
- the other pollutants of those outlets (BOD5, 总磷, 总氮) and every 一般排放口 (general outlet)
  report **annually** from **manual monitoring**; a few report by coefficients (产排污系数) or a
  sulphur balance (物料衡算);
- reported = the enterprise's own accounted emission × a plausible factor (0.88–1.12, the
  2023 factor within ±3 % of the 2022 one so that the year-over-year change follows the
  activity), except for the **deliberate discrepancies** listed in DELIBERATE.

The expected comparison flags are computed here from the written file with the defaults of the
issue (relative difference (reported − estimate) / estimate beyond ±20 % warning, ±50 % error;
year-over-year change of the reported annual total beyond ±20 %; a capture rate under 75 %;
reported or estimated above the permitted quantity), and the script asserts that the flagged
set is exactly the documented one, so that no factor produces an accidental flag.
"""

import csv
import hashlib
import io
import os
from collections import OrderedDict, defaultdict
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "permit_reports.csv")

HEADERS = ["统一社会信用代码", "排污许可证编号", "排放口编号", "排放口类型", "污染物", "核算时段",
           "实际排放量(吨)", "核算方法", "有效数据捕集率(%)", "许可排放量(吨)"]

# Flows are not pollutant masses: permit reports do not give them.
FLOWS = {"工业废水量", "工业废气量"}
WATER = ["化学需氧量", "五日生化需氧量", "氨氮", "总磷", "总氮"]
AIR = ["二氧化硫", "氮氧化物"]
AUTO_WATER = {"化学需氧量", "氨氮"}  # automatically monitored at a slaughterhouse's main outlet

# How each permit holder reports (enterprise key → (outlet kind, method of the annual lines)).
# E18 and E22 (power plants) are permit holders too, but the excerpt has coefficients only for
# their flue-gas volume, so there is no estimate to compare a SO2/NOx report with: they are left
# out of the sample. E06, E12, E23 and E28 hold no permit and file no execution report.
MAIN = "主要排放口"
GENERAL = "一般排放口"
PLAN = {
    # large slaughterhouses: main outlet, COD/NH3-N automatic quarterly, others manual annual
    "E01": MAIN, "E02": MAIN, "E03": MAIN, "E07": MAIN, "E10": MAIN, "E11": MAIN,
    # small slaughterhouses: general outlet, annual
    "E04": GENERAL, "E05": GENERAL, "E08": GENERAL, "E09": GENERAL,
    # larger boilers: main outlet, SO2/NOx automatic quarterly
    "E13": MAIN, "E16": MAIN, "E21": MAIN, "E24": MAIN, "E29": MAIN, "E30": MAIN,
    # smaller boilers: general outlet, annual
    "E14": GENERAL, "E15": GENERAL, "E17": GENERAL, "E19": GENERAL, "E20": GENERAL,
    "E25": GENERAL, "E26": GENERAL, "E27": GENERAL,
}
# Annual lines not by manual monitoring: (key, pollutant or None for all) → method.
METHODS = {
    ("E04", None): "产排污系数",
    ("E08", None): "产排污系数",
    ("E20", None): "产排污系数",
    ("E17", "二氧化硫"): "物料衡算",
}
# How the enterprise is named on its lines (default: both).
IDENTIFIED_BY = {"E13": "permit_no", "E15": "uscc"}

# Deliberate discrepancies: (key, pollutant) → {year: factor}, and the other deliberate cases.
FACTORS = {
    ("E21", "二氧化硫"): {2022: Fraction("0.41"), 2023: Fraction("0.40")},  # ~60 % under: error
    ("E14", "氮氧化物"): {2022: Fraction("0.70"), 2023: Fraction("0.71")},  # ~30 % under: warning
    ("E09", "化学需氧量"): {2022: Fraction("1.36"), 2023: Fraction("1.34")},  # over: warning
    ("E29", "二氧化硫"): {2022: Fraction("0.97"), 2023: Fraction("0.99")},  # exceeds its permit
    ("E24", "氮氧化物"): {2022: Fraction("0.88"), 2023: Fraction("1.12")},  # year-over-year jump
}
PERMITTED_OVERRIDE = {("E29", "DA001", "二氧化硫"): Decimal("305")}
MISSING = {("E27", "氮氧化物", 2023)}  # no line: missing_report
LOW_CAPTURE = {("E16", 2023, 3): {"二氧化硫": Decimal("68.4"), "氮氧化物": Decimal("71.2")}}
# E19 closed on 2022-09-30 in the registry, yet burned 600 t of coal in early 2023 (activity row
# 55, excluded from accounting) and reports it: a report with no accounted activity.
CLOSED_BUT_REPORTING = "E19"

DELIBERATE = [
    ("E21", "二氧化硫", "2022, 2023", "under_reported (error)",
     "reports 41 % / 40 % of its estimate (relative difference about −60 %)"),
    ("E14", "氮氧化物", "2022, 2023", "under_reported (warning)",
     "reports 70 % / 71 % of its estimate (about −30 %)"),
    ("E09", "化学需氧量", "2022, 2023", "over_reported (warning)",
     "reports 136 % / 134 % of its estimate (about +35 %)"),
    ("E29", "二氧化硫", "2023", "exceeds_permit",
     "permitted 305 t at DA001; 2023 estimate and report are both above it (2022 is below)"),
    ("E27", "氮氧化物", "2023", "missing_report",
     "SO2 is reported for 2023, NOx is not, although the boiler emits it"),
    ("E19", "二氧化硫, 氮氧化物", "2023", "missing_activity",
     "closed 2022-09-30 in the registry; its 2023 activity row is excluded, but it reports the "
     "600 t of coal it burned (values = what the coefficients give for row 55)"),
    ("E16", "二氧化硫, 氮氧化物", "2023", "monitoring_not_valid",
     "the 2023 Q3 capture rates of DA001 are 68.4 % (SO2) and 71.2 % (NOx), under 75 %"),
    ("E24", "氮氧化物", "2023", "yoy_jump",
     "reported 88 % of the estimate in 2022 and 112 % in 2023: +31.5 % year over year while "
     "the estimate rises 3.3 %; both years are within ±20 % of their estimates"),
]

# Quarter shares of the annual amount.
SEASON = {
    "slaughter": [Fraction(22, 100), Fraction(18, 100), Fraction(25, 100), Fraction(35, 100)],
    "heating": [Fraction(36, 100), Fraction(14, 100), Fraction(12, 100), Fraction(38, 100)],
    "steam": [Fraction(27, 100), Fraction(24, 100), Fraction(23, 100), Fraction(26, 100)],
}

WARN, ERROR, YOY, CAPTURE = Fraction(20, 100), Fraction(50, 100), Fraction(20, 100), 75


def unit_hash(*key):
    """A number in [0, 1) derived from SHA-256 of the key."""
    digest = hashlib.sha256("npsc-sample-permit/".encode() + "/".join(map(str, key)).encode())
    return Fraction(int.from_bytes(digest.digest()[:6], "big"), 1 << 48)


def places(value):
    return Decimal("0.001") if value >= 1 else Decimal("0.0001")


def rounded(fr, quantum=None):
    d = Decimal(fr.numerator) / Decimal(fr.denominator)
    return d.quantize(quantum or places(fr), rounding=ROUND_HALF_EVEN)


def nice_ceiling(fr):
    step = Decimal("1") if fr >= 10 else Decimal("0.1") if fr >= 1 else Decimal("0.01")
    d = Decimal(fr.numerator) / Decimal(fr.denominator)
    return (d / step).to_integral_value(rounding=ROUND_CEILING) * step


def factor(key, pollutant, year, method):
    if (key, pollutant) in FACTORS:
        return FACTORS[(key, pollutant)][year]
    if method == "产排污系数":
        return Fraction(1)
    f = Fraction(90, 100) + Fraction(20, 100) * unit_hash(key, pollutant, "f")
    if year == 2023:
        f *= 1 + Fraction(6, 100) * (unit_hash(key, pollutant, "yoy") - Fraction(1, 2))
    return min(max(f, Fraction(88, 100)), Fraction(112, 100))


def season_of(name):
    if "肉" in name or "屠宰" in name or "羊" in name:
        return "slaughter"
    return "heating" if ("供热" in name or "热力" in name) else "steam"


def fmt(d):
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def build(rows, registry, results, key_of_uscc):
    """The report lines and the expected comparison."""
    uscc_of = {k: u for u, k in key_of_uscc.items()}
    est = defaultdict(Fraction)  # (uscc, outlet, pollutant, year)
    for x in results:
        if x["pollutant"] in FLOWS:
            continue
        outlet = rows[x["row"] - 2]["outlet_id"]
        est[(x["uscc"], outlet, x["pollutant"], x["year"])] += x["emi"]
    # E19's excluded 2023 row: what the coefficients give for it (same key, S and k as 2022).
    closed = uscc_of[CLOSED_BUT_REPORTING]
    act = {int(r["year"]): Fraction(r["activity"]) for r in rows if r["uscc"] == closed}
    closed_2023 = {(closed, o, p, 2023): v * act[2023] / act[2022]
                   for (u, o, p, y), v in est.items() if u == closed and y == 2022}

    lines = []
    permitted = {}  # (uscc, outlet, pollutant) → Decimal
    for key, kind in PLAN.items():
        uscc = uscc_of[key]
        ent = registry[uscc]
        outlets = sorted({o for (u, o, _, _) in est if u == uscc})
        water = ent["industry_code"] == "1351"
        pollutants = WATER if water else AIR
        for outlet in outlets:
            for pollutant in pollutants:
                auto = kind == MAIN and (pollutant in AUTO_WATER if water else True)
                if auto:
                    best = max(est[(uscc, outlet, pollutant, y)] for y in (2022, 2023))
                    m = Fraction(130, 100) + Fraction(30, 100) * unit_hash(key, pollutant, "permit")
                    permitted[(uscc, outlet, pollutant)] = PERMITTED_OVERRIDE.get(
                        (key, outlet, pollutant), nice_ceiling(best * m))
        for year in (2022, 2023):
            for outlet in outlets:
                for pollutant in pollutants:
                    if (key, pollutant, year) in MISSING:
                        continue
                    e = est.get((uscc, outlet, pollutant, year))
                    if e is None:
                        e = closed_2023.get((uscc, outlet, pollutant, year))
                    if e is None:
                        continue
                    auto = kind == MAIN and (pollutant in AUTO_WATER if water else True)
                    method = ("自动监测" if auto else
                              METHODS.get((key, pollutant), METHODS.get((key, None), "手工监测")))
                    annual = rounded(e * factor(key, pollutant, year, method))
                    base = dict(key=key, uscc=uscc, permit_no=ent["permit_no"], outlet=outlet,
                                kind=kind, pollutant=pollutant, year=year, method=method,
                                permitted=permitted.get((uscc, outlet, pollutant)))
                    if not auto:
                        lines.append(dict(base, period=str(year), reported=annual, capture=None))
                        continue
                    shares = SEASON[season_of(ent["name"])]
                    quarters = [rounded(Fraction(annual) * s, places(annual)) for s in shares[:3]]
                    quarters.append(annual - sum(quarters))
                    for q, amount in enumerate(quarters, start=1):
                        low = LOW_CAPTURE.get((key, year, q), {}).get(pollutant)
                        capture = low if low is not None else (
                            Decimal(900 + int(95 * unit_hash(key, outlet, pollutant, year, q)))
                            / 10)
                        lines.append(dict(base, period=f"{year}年第{q}季度", reported=amount,
                                          capture=capture))
    return lines, est, closed_2023


def write_csv(lines):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADERS)
    for x in lines:
        how = IDENTIFIED_BY.get(x["key"])
        w.writerow([
            "" if how == "permit_no" else x["uscc"],
            "" if how == "uscc" else x["permit_no"],
            x["outlet"], x["kind"], x["pollutant"], x["period"], fmt(x["reported"]),
            x["method"], "" if x["capture"] is None else fmt(x["capture"]),
            "" if x["permitted"] is None else fmt(x["permitted"]),
        ])
    with open(OUT, "wb") as f:
        f.write(buf.getvalue().encode("utf-8"))


def compare(lines, est):
    """Enterprise × pollutant × year: estimate, reported, permitted and the expected flags."""
    estimate = defaultdict(Fraction)
    for (u, _, p, y), v in est.items():
        estimate[(u, p, y)] += v
    reported = defaultdict(Fraction)
    permitted = defaultdict(dict)
    low = defaultdict(list)
    for x in lines:
        k = (x["uscc"], x["pollutant"], x["year"])
        reported[k] += Fraction(x["reported"])
        if x["permitted"] is not None:
            permitted[k][x["outlet"]] = Fraction(x["permitted"])
        if x["capture"] is not None and x["capture"] < CAPTURE:
            low[k].append(f"{x['period']} {fmt(x['capture'])} %")
    holders = {x["uscc"] for x in lines}
    table = OrderedDict()
    for k in sorted(set(estimate) | set(reported), key=lambda k: (k[0], k[2], k[1])):
        u, p, y = k
        if u not in holders:
            continue
        e, r = estimate.get(k), reported.get(k)
        perm = sum(permitted[k].values()) if permitted.get(k) else None
        flags = []
        if e is not None and r is not None and e > 0:
            rel = (r - e) / e
            if rel < -ERROR:
                flags.append("under_reported (error)")
            elif rel < -WARN:
                flags.append("under_reported (warning)")
            elif rel > ERROR:
                flags.append("over_reported (error)")
            elif rel > WARN:
                flags.append("over_reported (warning)")
        if perm is not None and ((r is not None and r > perm) or (e is not None and e > perm)):
            flags.append("exceeds_permit")
        if r is None:
            flags.append("missing_report")
        if e is None:
            flags.append("missing_activity")
        prev = reported.get((u, p, y - 1))
        if r is not None and prev:
            if abs(r / prev - 1) > YOY:
                flags.append("yoy_jump")
        if low.get(k):
            flags.append("monitoring_not_valid")
        table[k] = dict(estimate=e, reported=r, permitted=perm, flags=flags, low=low.get(k, []))
    return table


def pct(fr):
    return f"{float(fr * 100):+.1f} %"


def run(rows, registry, results, key_of_uscc):
    """Writes permit_reports.csv; returns (EXPECTED.md section, README.md section) as lines."""
    lines, est, _ = build(rows, registry, results, key_of_uscc)
    write_csv(lines)
    table = compare(lines, est)
    key = lambda u: key_of_uscc[u]

    # Self-check: the flagged set is exactly the documented one.
    flagged = {(key(u), p, y): tuple(v["flags"]) for (u, p, y), v in table.items() if v["flags"]}
    expected = {
        ("E21", "二氧化硫", 2022): ("under_reported (error)",),
        ("E21", "二氧化硫", 2023): ("under_reported (error)",),
        ("E14", "氮氧化物", 2022): ("under_reported (warning)",),
        ("E14", "氮氧化物", 2023): ("under_reported (warning)",),
        ("E09", "化学需氧量", 2022): ("over_reported (warning)",),
        ("E09", "化学需氧量", 2023): ("over_reported (warning)",),
        ("E29", "二氧化硫", 2023): ("exceeds_permit",),
        ("E27", "氮氧化物", 2023): ("missing_report",),
        ("E19", "二氧化硫", 2023): ("missing_activity", "yoy_jump"),
        ("E19", "氮氧化物", 2023): ("missing_activity", "yoy_jump"),
        ("E16", "二氧化硫", 2023): ("monitoring_not_valid",),
        ("E16", "氮氧化物", 2023): ("monitoring_not_valid",),
        ("E24", "氮氧化物", 2023): ("yoy_jump",),
        # Jumps that follow the activity (the estimate jumps too): E11 rebuilt the treatment of
        # its second line (沉淀分离 → 物理+厌氧/好氧生物组合工艺), E26 was suspended mid-2023.
        **{("E11", p, 2023): ("yoy_jump",) for p in WATER},
        ("E26", "二氧化硫", 2023): ("yoy_jump",),
        ("E26", "氮氧化物", 2023): ("yoy_jump",),
    }
    assert flagged == expected, (
        f"unexpected flags: {sorted(set(flagged.items()) ^ set(expected.items()))}")

    n_q = sum(1 for x in lines if x["capture"] is not None)
    E = []
    E.append("## Permit execution reports (`permit_reports.csv`)\n")
    E.append("**SYNTHETIC.** Written by `permit_reports.py` (called by `generate.py`) from the exact "
             "per-row emissions above: reported = the enterprise's own accounted emission × a "
             "factor in 0.88–1.12 derived from SHA-256 of a fixed key (the 2023 factor within "
             "±3 % of the 2022 one), rounded to 0.001 t (0.0001 t below 1 t); quarterly lines "
             "split the annual amount by season (the last quarter takes the rounding rest). "
             f"{len(lines)} lines: {n_q} quarterly automatic-monitoring lines of main outlets "
             f"and {len(lines) - n_q} annual lines. SHA-256 "
             f"`{hashlib.sha256(open(OUT, 'rb').read()).hexdigest()}`.\n")
    E.append("Who reports: the 24 permit holders with a comparable estimate. E06, E12, E23 and "
             "E28 hold no permit (empty `permit_no`) and file no execution report; the power "
             "plants E18 and E22 hold permits, but the excerpt gives only their flue-gas volume, "
             "so no SO2/NOx estimate exists to compare with and they are left out. "
             "`工业废水量` and `工业废气量` are flows, not pollutant masses: permit reports do not "
             "give them, and the comparison must skip them (no `missing_report` for them).\n")
    E.append("Definitions used for the expected flags (the issue's defaults), per enterprise × "
             "pollutant × year, with the reported annual total = the sum of the enterprise's "
             "lines of that year (quarters and outlets added up) and the estimate = the sum of "
             "its accounted rows:\n")
    E.append("- relative difference = (reported − estimate) / estimate; `under_reported` / "
             "`over_reported` beyond ±20 % (warning) and ±50 % (error);")
    E.append("- `exceeds_permit`: the reported total or the estimate above the permitted quantity "
             "(the sum over the enterprise's outlets of each outlet's annual 许可排放量, which "
             "quarterly lines repeat);")
    E.append("- `missing_report`: an estimate for a pollutant of a reporting permit holder and no "
             "line; `missing_activity`: lines and no estimate;")
    E.append("- `yoy_jump`: the reported total changes by more than ±20 % against the previous "
             "year;")
    E.append("- `monitoring_not_valid`: an automatic-monitoring line with a quarterly capture rate "
             "under 75 %.\n")
    E.append("### Deliberate discrepancies and the exact flags expected\n")
    E.append("| enterprise | pollutant | year | flag | how |\n|---|---|---|---|---|")
    for k, p, y, flag, how in DELIBERATE:
        E.append(f"| {k} `{[u for u in key_of_uscc if key_of_uscc[u] == k][0]}` | {p} | {y} | "
                 f"`{flag}` | {how} |")
    E.append("")
    E.append("Flags that follow from the data rather than from a deliberate error (the estimate "
             "moves with the report): `yoy_jump` for E11 2023 (all five water pollutants: its "
             "second line changed from 沉淀分离 to 物理+厌氧/好氧生物组合工艺), E26 2023 SO2 and "
             "NOx (suspended on 2023-06-30, half a year of coal) and E19 2023 SO2 and NOx (closed, "
             "only 600 t of coal). **No other enterprise × pollutant × year is flagged**: every "
             "other relative difference lies within ±12 %, every other yoy change within ±20 %, "
             "every other capture rate is 90.0–99.4 %, every other permitted quantity is 1.3–1.6 "
             "times the higher of the two years' estimates. `generate.py` asserts this.\n")
    E.append("### Per enterprise, pollutant and year\n")
    E.append("| enterprise | pollutant | year | estimate t | reported t | difference | permitted t "
             "| expected flags |\n|---|---|---|---:|---:|---:|---:|---|")
    order = lambda k: (key(k[0]), k[2], (WATER + AIR).index(k[1]))
    for (u, p, y), v in sorted(table.items(), key=lambda item: order(item[0])):
        e, r, perm = v["estimate"], v["reported"], v["permitted"]
        diff = pct((r - e) / e) if e and r is not None else "—"
        flags = ", ".join(f"`{f}`" for f in v["flags"]) or "—"
        if v["low"]:
            flags += f" ({'; '.join(v['low'])})"
        E.append(f"| {key(u)} `{u}` | {p} | {y} | {fmt(rounded(e, Decimal('0.0001'))) if e is not None else '—'} "
                 f"| {fmt(rounded(r, Decimal('0.0001'))) if r is not None else '—'} | {diff} | "
                 f"{fmt(Decimal(perm.numerator) / perm.denominator) if perm is not None else '—'} "
                 f"| {flags} |")
    E.append("")

    R = []
    R.append("## Permit execution reports\n")
    R.append("> **⚠ SYNTHETIC.** Invented execution reports of the fictional enterprises, derived "
             "from their accounted emissions with deliberate discrepancies.\n")
    R.append(f"`permit_reports.csv` ({len(lines)} lines, UTF-8, Chinese headers as permit officers' "
             "files have them): `统一社会信用代码`, `排污许可证编号` (E13 gives only its permit "
             "number, E15 only its USCC), `排放口编号`, `排放口类型` (主要排放口/一般排放口), `污染物`, "
             "`核算时段` (`2023` or `2023年第1季度`), `实际排放量(吨)`, `核算方法` (自动监测, 手工监测, "
             "物料衡算, 产排污系数), `有效数据捕集率(%)` (automatic-monitoring quarters), "
             "`许可排放量(吨)` (main outlets' annual permitted quantity, repeated on each quarter).\n")
    R.append("- Main outlets report quarterly from automatic monitoring: COD and 氨氮 of the large "
             "slaughterhouses (E01, E02, E03, E07, E10, E11), SO2 and NOx of the larger boilers "
             "(E13, E16, E21, E24, E29, E30 with two outlets); their other pollutants and every "
             "general outlet report annually by manual monitoring, E04, E08 and E20 by "
             "coefficients, E17's SO2 by a sulphur balance.")
    R.append("- Deliberate discrepancies, each with the exact flag expected (details and the full "
             "per-enterprise table in `EXPECTED.md`):")
    for k, p, y, flag, how in DELIBERATE:
        R.append(f"  - {k} {p} {y}: `{flag}` — {how}.")
    R.append("- Not reporting: E06, E12, E23, E28 (no permit); E18, E22 (power plants: no SO2/NOx "
             "estimate in the excerpt).\n")
    return E, R
