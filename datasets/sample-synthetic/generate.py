#!/usr/bin/env python3
"""Generate the bundled SYNTHETIC sample dataset of npsc and its independent hand computation.

Everything here is deterministic and uses the Python 3 standard library only (no randomness:
organization-code bodies are derived from SHA-256 of a fixed key). The enterprises are fictional;
their county codes are real GB/T 2260 codes; the activity levels are invented but plausible; the
coefficients are the real first-census excerpt (`coefficients_npsc1_excerpt.csv`).

Usage (from any directory):

    python3 generate.py --regions PATH/regions_gbt2260.csv \
                        --coefficients PATH/coefficients_npsc1_excerpt.csv

Writes, next to this script: registry.csv, activity.csv, manifest.toml, README.md, EXPECTED.md,
expected_totals.csv, permit_reports.csv (through permit_reports.py, which also adds a section to
EXPECTED.md and README.md); and ../../tests/fixtures/sample-activity-gbk.csv (GBK, CRLF, Chinese
headers). The expected values are computed with `fractions.Fraction`, i.e. exactly, by reading
back the written activity.csv and registry.csv; they do not use any npsc code.
"""

import argparse
import csv
import hashlib
import io
import os
import re
import sys
from collections import OrderedDict, defaultdict
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
GBK_FIXTURE = os.path.join(REPO, "tests", "fixtures", "sample-activity-gbk.csv")

# ---------------------------------------------------------------------------------------------
# GB 32100-2015 unified social credit code and the embedded GB 11714 organization code
# ---------------------------------------------------------------------------------------------

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # values 0..30
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def org_value(ch):
    """GB 11714 value of a character: digits 0-9, letters A=10 ... Z=35 (full alphabet)."""
    if ch.isdigit():
        return int(ch)
    if "A" <= ch <= "Z":
        return ord(ch) - ord("A") + 10
    raise ValueError(f"not an organization-code character: {ch!r}")


def org_check(body8):
    total = sum(org_value(c) * w for c, w in zip(body8, ORG_WEIGHTS))
    c = 11 - total % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def uscc_check(first17):
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    c = 31 - total % 31
    return USCC_CHARSET[0 if c == 31 else c]


def uscc_valid(code):
    if len(code) != 18 or any(c not in USCC_CHARSET for c in code):
        return False
    if uscc_check(code[:17]) != code[17]:
        return False
    return org_check(code[8:16]) == code[16]


def self_test():
    # Test vectors of domain-facts.md §5.5.
    assert uscc_valid("91350100M000100Y43"), "vector 91350100M000100Y43 must be valid"
    assert uscc_valid("91512081MA62K0260E"), "vector 91512081MA62K0260E must be valid"
    assert not uscc_valid("91350100M000100Y4Z"), "vector 91350100M000100Y4Z must be invalid"
    assert org_check("M000100Y") == "4" and org_check("MA62K026") == "0"
    s = sum(USCC_CHARSET.index(c) * w for c, w in zip("91350100M000100Y4", USCC_WEIGHTS))
    assert s == 1640 and s % 31 == 28
    s = sum(USCC_CHARSET.index(c) * w for c, w in zip("91512081MA62K0260", USCC_WEIGHTS))
    assert s == 1505 and s % 31 == 17


def make_uscc(county, key):
    """91 + county + 'MA' + 6 chars derived from SHA-256(key) + org check + USCC check."""
    n = 0
    while True:
        digest = hashlib.sha256(f"npsc-sample-synthetic/{key}/{n}".encode()).digest()
        body = "MA" + "".join(USCC_CHARSET[b % 31] for b in digest[:6])
        org = body + org_check(body)
        first17 = "91" + county + org
        code = first17 + uscc_check(first17)
        if uscc_valid(code):  # always true (X is in the charset); kept as an assertion
            return code
        n += 1


# ---------------------------------------------------------------------------------------------
# The fictional enterprises (real county codes)
# ---------------------------------------------------------------------------------------------

# key, county code, industry, name, status, status_date, has_permit
ENTERPRISES = [
    # 内蒙古 — sheep slaughter (1351)
    ("E01", "152502", "1351", "示例锡林浩特草原羊肉食品有限公司（样例）", "运行", "", True),
    ("E02", "152525", "1351", "示例东乌珠穆沁旗牧歌肉业有限公司（样例）", "运行", "", True),
    ("E03", "152526", "1351", "示例西乌珠穆沁旗白音羊业有限公司（样例）", "运行", "", True),
    ("E04", "152522", "1351", "示例阿巴嘎旗羊肉加工有限公司（样例）", "运行", "", True),
    ("E05", "152523", "1351", "示例苏尼特左旗肉类屠宰有限公司（样例）", "运行", "", True),
    ("E06", "152524", "1351", "示例苏尼特右旗小型屠宰厂有限公司（样例）", "运行", "", False),
    ("E07", "150802", "1351", "示例巴彦淖尔河套肉业有限公司（样例）", "运行", "", True),
    ("E08", "150824", "1351", "示例乌拉特中旗羔羊肉食品有限公司（样例）", "运行", "", True),
    ("E09", "150727", "1351", "示例新巴尔虎右旗草原肉业有限公司（样例）", "运行", "", True),
    ("E10", "150623", "1351", "示例鄂托克前旗绒山羊肉业有限公司（样例）", "运行", "", True),
    ("E11", "150105", "1351", "示例呼和浩特清真肉类加工有限公司（样例）", "运行", "", True),
    ("E12", "150929", "1351", "示例四子王旗杜蒙羊肉食品有限公司（样例）", "运行", "", False),
    # 河北 — boilers (4430) and a power plant (4411)
    ("E13", "130109", "4430", "示例石家庄藁城供热有限公司（样例）", "运行", "", True),
    ("E14", "130123", "4430", "示例正定县热力有限公司（样例）", "运行", "", True),
    ("E15", "130181", "4430", "示例辛集市皮革园区供汽有限公司（样例）", "运行", "", True),
    ("E16", "130283", "4430", "示例迁安市城区供热有限公司（样例）", "运行", "", True),
    ("E17", "130207", "4430", "示例唐山丰南蒸汽供应有限公司（样例）", "运行", "", True),
    ("E18", "130208", "4411", "示例唐山丰润发电有限公司（样例）", "运行", "", True),
    ("E19", "130481", "4430", "示例武安市铸造园区锅炉房有限公司（样例）", "关闭", "2022-09-30", True),
    ("E20", "130406", "4430", "示例峰峰矿区集中供热有限公司（样例）", "运行", "", True),
    ("E21", "130684", "4430", "示例高碑店市食品园区热力有限公司（样例）", "运行", "", True),
    # 山东 — a power plant, boilers, one slaughterhouse
    ("E22", "370783", "4411", "示例寿光滨海发电有限公司（样例）", "运行", "", True),
    ("E23", "371722", "1351", "示例单县羊肉食品有限公司（样例）", "运行", "", False),
    ("E24", "370114", "4430", "示例章丘区纺织园区供汽有限公司（样例）", "运行", "", True),
    ("E25", "370112", "4430", "示例济南历城供热有限公司（样例）", "运行", "", True),
    ("E26", "370782", "4430", "示例诸城市食品工业园蒸汽有限公司（样例）", "停产", "2023-06-30", True),
    ("E27", "370781", "4430", "示例青州市热力有限公司（样例）", "运行", "", True),
    ("E28", "371323", "4430", "示例沂水县造纸园区供汽有限公司（样例）", "运行", "", False),
    ("E29", "371302", "4430", "示例临沂兰山供热有限公司（样例）", "运行", "", True),
    ("E30", "371503", "4430", "示例聊城茌平工业园区供汽有限公司（样例）", "运行", "", True),
]

# ---------------------------------------------------------------------------------------------
# Activity rows
# ---------------------------------------------------------------------------------------------

SHEEP = ("冻羊肉", "羊", "屠宰、分割")
BOILER = ("蒸汽", "煤炭", "层燃炉")
POWER = ("电能", "煤炭", "煤粉炉")
BIG = "≥1500头/天屠宰"
SMALL = "<1500头/天屠宰"
COMBO = "物理+厌氧/好氧生物组合工艺"
SETTLE = "沉淀分离"
CHEMBIO = "化学+好氧生物处理"


def R(key, unit, kind, *, scale="", cap="", cap_unit="", treat, act, act_unit, k="", s="",
      outlet, ind=True, product=None, note=""):
    """One activity row spec; `kind` selects product/raw material/process; `ind=False` leaves
    industry_code empty (it then defaults to the registry's)."""
    prod = {"sheep": SHEEP, "boiler": BOILER, "power": POWER}.get(kind, product)
    return dict(key=key, unit=unit, prod=prod, scale=scale, cap=cap, cap_unit=cap_unit,
                treat=treat, act=act, act_unit=act_unit, k=k,
                params=f"S={s}" if s else "", outlet=outlet, ind=ind, note=note)


ACTIVITY = {
    2022: [
        R("E01", "MF0001", "sheep", scale=BIG, treat=COMBO, act="612000", act_unit="头", k="0.9",
          outlet="DW001"),
        R("E02", "MF0001", "sheep", scale=BIG, treat=SETTLE, act="438000", act_unit="头", k="0.85",
          outlet="DW001"),
        R("E03", "MF0001", "sheep", cap="2000", cap_unit="头/天", treat=COMBO, act="540000",
          act_unit="头", k="0.95", outlet="DW001"),
        R("E04", "MF0001", "sheep", scale=SMALL, treat=CHEMBIO, act="186000", act_unit="头",
          k="0.85", outlet="DW001"),
        R("E05", "MF0001", "sheep", cap="800", cap_unit="头/天", treat=CHEMBIO, act="153000",
          act_unit="头", k="0.8", outlet="DW001"),
        R("E06", "MF0001", "sheep", scale=SMALL, treat="直排", act="98000", act_unit="头",
          outlet="DW001"),
        R("E07", "MF0001", "sheep", scale=BIG, treat=SETTLE, act="480000", act_unit="头", k="0.9",
          outlet="DW001"),
        R("E08", "MF0001", "sheep", scale=SMALL, treat=CHEMBIO, act="12.6", act_unit="万头",
          k="0.9", outlet="DW001"),
        R("E09", "MF0001", "sheep", cap="1200", cap_unit="头/天", treat=CHEMBIO, act="264000",
          act_unit="头", k="0.9", outlet="DW001"),
        R("E10", "MF0001", "sheep", cap="1800", cap_unit="头/天", treat=COMBO, act="507000",
          act_unit="头", k="0.9", outlet="DW001"),
        R("E11", "MF0001", "sheep", scale=BIG, treat=SETTLE, act="390000", act_unit="头", k="0.8",
          outlet="DW001"),
        R("E11", "MF0002", "sheep", cap="1600", cap_unit="头/天", treat=SETTLE, act="362000",
          act_unit="头", k="0.8", outlet="DW001"),
        R("E12", "MF0001", "sheep", scale=SMALL, treat=CHEMBIO, act="142000", act_unit="头",
          k="0.75", outlet="DW001"),
        R("E13", "MF0001", "boiler", scale="所有规模", treat="二氧化硫:湿式除尘脱硫", act="12000",
          act_unit="吨", k="0.8", s="1.2", outlet="DA001"),
        R("E14", "MF0001", "boiler", scale="所有规模", treat="湿法除尘法", act="8500",
          act_unit="吨", k="0.9", s="1.0", outlet="DA001"),
        R("E15", "MF0001", "boiler", scale="所有规模", treat="添加固硫剂", act="1.5",
          act_unit="万吨", k="0.9", s="0.9", outlet="DA001"),
        R("E16", "MF0001", "boiler", scale="所有规模", treat="炉内脱硫", act="21000",
          act_unit="吨", k="0.95", s="0.8", outlet="DA001"),
        R("E17", "MF0001", "boiler", scale="所有规模", treat="添加脱硫剂", act="9600",
          act_unit="吨", s="1.5", outlet="DA001"),
        R("E18", "MF0001", "power", scale="≥750兆瓦", treat="直排", act="250", act_unit="万吨",
          outlet="DA001"),
        R("E19", "MF0001", "boiler", scale="所有规模", treat="湿法除尘法", act="4500",
          act_unit="吨", k="0.85", s="2.0", outlet="DA001"),
        R("E20", "MF0001", "boiler", scale="所有规模", treat="直排", act="6800", act_unit="吨",
          s="1.0", outlet="DA001"),
        R("E21", "MF0001", "boiler", scale="所有规模", treat="湿法除尘法;二氧化硫:炉内脱硫",
          act="15500", act_unit="吨", k="0.9", s="1.1", outlet="DA001"),
        R("E22", "MF0001", "power", cap="1000", cap_unit="兆瓦", treat="石灰石-石膏湿法脱硫;静电除尘",
          act="138", act_unit="万吨", k="0.98", outlet="DA001"),
        R("E22", "MF0002", "power", cap="1000", cap_unit="兆瓦", treat="石灰石-石膏湿法脱硫;静电除尘",
          act="131", act_unit="万吨", k="0.98", outlet="DA002"),
        R("E23", "MF0001", "sheep", scale=SMALL, treat=SETTLE, act="88000", act_unit="头", k="0.9",
          outlet="DW001"),
        R("E24", "MF0001", "boiler", scale="所有规模", treat="湿式除尘脱硫", act="18000",
          act_unit="吨", k="0.9", s="0.7", outlet="DA001"),
        R("E25", "MF0001", "boiler", scale="所有规模", treat="湿法除尘法", act="7600",
          act_unit="吨", k="0.9", s="1.0", outlet="DA001", ind=False),
        R("E26", "MF0001", "boiler", scale="所有规模", treat="炉内脱硫", act="11200",
          act_unit="吨", k="0.9", s="1.3", outlet="DA001"),
        R("E27", "MF0001", "boiler", scale="所有规模", treat="二氧化硫:添加固硫剂", act="9300",
          act_unit="吨", k="0.85", s="0.9", outlet="DA001"),
        R("E28", "MF0001", "boiler", scale="所有规模", treat="直排", act="5200", act_unit="吨",
          s="1.4", outlet="DA001"),
        R("E29", "MF0001", "boiler", scale="所有规模", treat="二氧化硫:湿法除尘法", act="13400",
          act_unit="吨", k="0.8", s="1.6", outlet="DA001"),
        R("E30", "MF0001", "boiler", scale="所有规模", treat="湿式除尘脱硫", act="24000",
          act_unit="吨", k="0.95", s="1.2", outlet="DA001"),
        R("E30", "MF0002", "boiler", scale="所有规模", treat="添加脱硫剂", act="16000",
          act_unit="吨", k="0.9", s="1.2", outlet="DA002", ind=False),
    ],
    2023: [
        R("E01", "MF0001", "sheep", scale=BIG, treat=COMBO, act="64.5", act_unit="万头", k="0.92",
          outlet="DW001"),
        R("E02", "MF0001", "sheep", cap="1500", cap_unit="头/天", treat=SETTLE, act="451500",
          act_unit="头", k="0.85", outlet="DW001", ind=False),
        R("E03", "MF0001", "sheep", cap="2000", cap_unit="头/天", treat=COMBO, act="556800",
          act_unit="头", outlet="DW001"),
        R("E04", "MF0001", "sheep", scale=SMALL, treat=CHEMBIO, act="192000", act_unit="头",
          k="0.85", outlet="DW001"),
        R("E05", "MF0001", "sheep", cap="800", cap_unit="头/天", treat=CHEMBIO, act="16.2",
          act_unit="万头", k="0.8", outlet="DW001"),
        R("E06", "MF0001", "sheep", scale=SMALL, treat="直排", act="101500", act_unit="头",
          outlet="DW001"),
        R("E07", "MF0001", "sheep", scale=BIG, treat=SETTLE, act="495000", act_unit="头", k="0.9",
          outlet="DW001"),
        R("E07", "MF0002", "other", product=("冻牛肉", "牛", "屠宰、分割"), scale=SMALL,
          treat=SETTLE, act="36000", act_unit="头", k="0.9", outlet="DW001"),
        R("E08", "MF0001", "sheep", scale=SMALL, treat=CHEMBIO, act="13.1", act_unit="万头",
          k="0.9", outlet="DW001"),
        R("E09", "MF0001", "sheep", cap="1200", cap_unit="头/天", treat=CHEMBIO, act="271200",
          act_unit="头", k="0.9", outlet="DW001"),
        R("E10", "MF0001", "sheep", cap="1800", cap_unit="头/天", treat=COMBO, act="52.3",
          act_unit="万头", k="0.9", outlet="DW001"),
        R("E11", "MF0001", "sheep", scale=BIG, treat=SETTLE, act="402000", act_unit="头", k="0.8",
          outlet="DW001"),
        R("E11", "MF0002", "sheep", cap="1600", cap_unit="头/天", treat=COMBO, act="371000",
          act_unit="头", k="0.95", outlet="DW001"),
        R("E12", "MF0001", "sheep", scale=SMALL, treat=CHEMBIO, act="148500", act_unit="头",
          k="0.75", outlet="DW001"),
        R("E13", "MF0001", "boiler", scale="所有规模", treat="二氧化硫:湿式除尘脱硫", act="12600",
          act_unit="吨", k="0.8", s="1.2", outlet="DA001"),
        R("E14", "MF0001", "boiler", scale="所有规模", treat="湿法除尘法", act="8800",
          act_unit="吨", k="0.9", s="1.0", outlet="DA001", ind=False),
        R("E15", "MF0001", "boiler", scale="所有规模", treat="添加固硫剂", act="1.62",
          act_unit="万吨", k="0.9", s="0.9", outlet="DA001"),
        R("E16", "MF0001", "boiler", scale="所有规模", treat="炉内脱硫", act="22400",
          act_unit="吨", k="0.95", s="0.8", outlet="DA001"),
        R("E17", "MF0001", "boiler", scale="所有规模", treat="添加脱硫剂", act="10100",
          act_unit="吨", s="1.5", outlet="DA001"),
        R("E18", "MF0001", "power", scale="≥750兆瓦", treat="直排", act="262", act_unit="万吨",
          outlet="DA001"),
        R("E19", "MF0001", "boiler", scale="所有规模", treat="湿法除尘法", act="600",
          act_unit="吨", k="0.85", s="2.0", outlet="DA001"),
        R("E20", "MF0001", "boiler", scale="所有规模", treat="直排", act="7100", act_unit="吨",
          s="1.0", outlet="DA001"),
        R("E21", "MF0001", "boiler", scale="所有规模", treat="湿法除尘法;二氧化硫:炉内脱硫",
          act="15800", act_unit="吨", k="0.9", s="1.1", outlet="DA001"),
        R("E22", "MF0001", "power", cap="1000", cap_unit="兆瓦", treat="石灰石-石膏湿法脱硫;静电除尘",
          act="141.5", act_unit="万吨", k="0.98", outlet="DA001"),
        R("E22", "MF0002", "power", cap="1000", cap_unit="兆瓦", treat="石灰石-石膏湿法脱硫;静电除尘",
          act="136", act_unit="万吨", k="0.98", outlet="DA002"),
        R("E23", "MF0001", "sheep", scale=SMALL, treat=SETTLE, act="91000", act_unit="头", k="0.9",
          outlet="DW001"),
        R("E24", "MF0001", "boiler", scale="所有规模", treat="湿式除尘脱硫", act="18600",
          act_unit="吨", k="0.9", s="0.7", outlet="DA001"),
        R("E25", "MF0001", "boiler", scale="所有规模", treat="湿法除尘法", act="7900",
          act_unit="吨", s="1.0", outlet="DA001", ind=False),
        R("E26", "MF0001", "boiler", scale="所有规模", treat="炉内脱硫", act="5300",
          act_unit="吨", k="0.9", s="1.3", outlet="DA001"),
        R("E27", "MF0001", "boiler", scale="所有规模", treat="二氧化硫:添加固硫剂", act="9700",
          act_unit="吨", k="0.85", s="0.9", outlet="DA001"),
        R("E28", "MF0001", "boiler", scale="所有规模", treat="直排", act="5400", act_unit="吨",
          s="1.4", outlet="DA001"),
        R("E29", "MF0001", "boiler", scale="所有规模", treat="二氧化硫:湿法除尘法", act="13900",
          act_unit="吨", k="0.8", s="1.6", outlet="DA001"),
        R("E30", "MF0001", "boiler", scale="所有规模", treat="湿式除尘脱硫", act="25500",
          act_unit="吨", k="0.95", s="1.2", outlet="DA001"),
        R("E30", "MF0002", "boiler", scale="所有规模", treat="添加脱硫剂", act="16800",
          act_unit="吨", k="0.9", s="1.2", outlet="DA002", ind=False),
    ],
}

ACTIVITY_HEADERS_EN = ["year", "uscc", "unit_id", "industry_code", "product", "raw_material",
                       "process", "scale", "capacity", "capacity_unit", "treatment", "activity",
                       "activity_unit", "operation_rate", "parameters", "outlet_id"]
ACTIVITY_HEADERS_ZH = ["年份", "统一社会信用代码", "生产单元编号", "行业代码", "产品名称", "原料名称",
                       "工艺名称", "规模等级", "生产规模", "规模单位", "末端治理技术名称", "活动水平",
                       "计量单位", "治理设施运行率", "参数", "排放口编号"]
REGISTRY_HEADERS = ["uscc", "name", "region_code", "industry_code", "status", "status_date",
                    "permit_no"]

PROVINCE_NAMES = {"150000": "内蒙古自治区", "130000": "河北省", "370000": "山东省"}
PROVINCE_ORDER = ["150000", "130000", "370000"]
POLLUTANT_ORDER = ["工业废水量", "化学需氧量", "五日生化需氧量", "氨氮", "总磷", "总氮",
                   "工业废气量", "二氧化硫", "氮氧化物"]


def write_csv(path, headers, rows, encoding="utf-8", newline="\n"):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(headers)
    w.writerows(rows)
    text = buf.getvalue()
    data = text.encode(encoding)  # raises UnicodeEncodeError if a character is not in GBK
    with open(path, "wb") as f:
        f.write(data)


def generate(regions_path):
    regions = {}
    with open(regions_path, encoding="utf-8") as f:
        for r in csv.DictReader(f):
            regions[r["code"]] = r
    registry_rows, uscc_of = [], {}
    for key, county, ind, name, status, sdate, permit in ENTERPRISES:
        reg = regions.get(county)
        assert reg and reg["level"] == "3", f"{county} is not a level-3 GB/T 2260 code"
        assert county[:2] + "0000" in PROVINCE_NAMES
        code = make_uscc(county, key)
        assert uscc_valid(code) and code[2:8] == county and code[:2] == "91"
        assert code not in uscc_of.values()
        uscc_of[key] = code
        registry_rows.append([code, name, county, ind, status, sdate,
                              code + "001P" if permit else ""])
    ind_of = {e[0]: e[2] for e in ENTERPRISES}
    activity_rows = []
    for year in (2022, 2023):
        for a in ACTIVITY[year]:
            activity_rows.append([
                str(year), uscc_of[a["key"]], a["unit"], ind_of[a["key"]] if a["ind"] else "",
                a["prod"][0], a["prod"][1], a["prod"][2], a["scale"], a["cap"], a["cap_unit"],
                a["treat"], a["act"], a["act_unit"], a["k"], a["params"], a["outlet"]])
    write_csv(os.path.join(HERE, "registry.csv"), REGISTRY_HEADERS, registry_rows)
    write_csv(os.path.join(HERE, "activity.csv"), ACTIVITY_HEADERS_EN, activity_rows)
    os.makedirs(os.path.dirname(GBK_FIXTURE), exist_ok=True)
    write_csv(GBK_FIXTURE, ACTIVITY_HEADERS_ZH, activity_rows, encoding="gbk", newline="\r\n")
    return regions, uscc_of


# ---------------------------------------------------------------------------------------------
# Independent hand computation (exact, with Fraction), reading back the written files
# ---------------------------------------------------------------------------------------------

NUMERATOR_TO_REPORT = {  # numerator unit of a coefficient -> (factor to report unit, report unit)
    "克": (Fraction(1, 1_000_000), "吨"),
    "千克": (Fraction(1, 1_000), "吨"),
    "吨": (Fraction(1), "吨"),
    "标立方米": (Fraction(1, 10_000), "万标立方米"),
}
ACTIVITY_TO_BASE = {"头": ("头", Fraction(1)), "万头": ("头", Fraction(10_000)),
                    "吨": ("吨", Fraction(1)), "万吨": ("吨", Fraction(10_000))}


def exact(fr):
    """Exact decimal text of a Fraction whose denominator has only the factors 2 and 5."""
    num, den = fr.numerator, fr.denominator
    sign = "-" if num < 0 else ""
    num = abs(num)
    d, places = den, 0
    while d % 10 == 0:
        d //= 10
        places += 1
    while d % 2 == 0 or d % 5 == 0:
        d //= 2 if d % 2 == 0 else 5
        places += 1
    assert d == 1, f"{fr} is not a finite decimal"
    scaled = num * 10**places // den
    assert scaled * den == num * 10**places
    text = str(scaled).rjust(places + 1, "0")
    if places:
        text = text[:-places] + "." + text[-places:]
        text = text.rstrip("0").rstrip(".")
    return sign + text


def sig9(fr):
    d = Decimal(exact(fr))
    r = Context(prec=9, rounding=ROUND_HALF_EVEN).plus(d)
    return f"{r:f}" if "." not in f"{r:f}" else f"{r:f}".rstrip("0").rstrip(".")


def parse_scale_label(label):
    """`≥1500头/天屠宰` -> ('≥', 1500, '头/天'); `所有规模` -> ('all', None, None)."""
    if label == "所有规模":
        return ("all", None, None)
    m = re.fullmatch(r"(≥|<)([0-9.]+)(头/天|兆瓦)(屠宰)?", label)
    assert m, f"unknown scale label {label!r}"
    return (m.group(1), Fraction(m.group(2)), m.group(3))


def load_coefficients(path):
    table = defaultdict(lambda: defaultdict(dict))  # key -> pollutant -> treatment -> row
    with open(path, encoding="utf-8") as f:
        for r in csv.DictReader(f):
            key = (r["industry_code"], r["product"], r["raw_material"], r["process"], r["scale"])
            table[key][r["pollutant"]][r["treatment"]] = r
    return table


def classify(coef_table, ind, prod, raw, proc, scale, cap, cap_unit):
    """Return the coefficient key of a row, or None; and how the scale was decided."""
    if scale:
        key = (ind, prod, raw, proc, scale)
        return (key if key in coef_table else None), f"scale label `{scale}`"
    for key in coef_table:
        if key[:4] != (ind, prod, raw, proc):
            continue
        op, bound, unit = parse_scale_label(key[4])
        if op == "all":
            return key, "scale class `所有规模`"
        if cap and unit == cap_unit:
            c = Fraction(cap)
            if (op == "≥" and c >= bound) or (op == "<" and c < bound):
                return key, f"capacity {cap} {cap_unit} → `{key[4]}`"
    return None, f"capacity {cap} {cap_unit}: no class"


def parse_treatments(text):
    items = []
    for part in re.split(r"[;；]", text):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([^:：]+)[:：](.+)$", part)
        items.append((m.group(1).strip(), m.group(2).strip()) if m else (None, part))
    return items


def choose_treatment(items, pollutant, listed):
    prefixed = [t for p, t in items if p == pollutant]
    if prefixed:
        t = prefixed[0]
        if t in listed:
            return t, "prefixed"
        return "直排", f"fallback (prefixed `{t}` not listed)"
    unprefixed = [t for p, t in items if p is None and t in listed]
    if len(unprefixed) == 1:
        return unprefixed[0], "declared"
    assert not unprefixed, f"ambiguous treatments {unprefixed} for {pollutant}"
    return "直排", "fallback"


def compute(coef_path):
    coef = load_coefficients(coef_path)
    with open(os.path.join(HERE, "registry.csv"), encoding="utf-8") as f:
        registry = {r["uscc"]: r for r in csv.DictReader(f)}
    with open(os.path.join(HERE, "activity.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    results, excluded, flags = [], [], []
    for i, r in enumerate(rows, start=2):
        ent = registry[r["uscc"]]
        year = int(r["year"])
        ind = r["industry_code"] or ent["industry_code"]
        if ent["status"] == "关闭" and ent["status_date"] and year > int(ent["status_date"][:4]):
            excluded.append((i, r, f"enterprise closed {ent['status_date']}; year {year} is after "
                                   "the closure year: excluded, not in totals"))
            continue
        key, how = classify(coef, ind, r["product"], r["raw_material"], r["process"], r["scale"],
                            r["capacity"], r["capacity_unit"])
        if key is None:
            excluded.append((i, r, f"no coefficient key ({ind} / {r['product']} / "
                                   f"{r['raw_material']} / {r['process']} / {how}): unaccounted"))
            continue
        items = parse_treatments(r["treatment"])
        params = dict(p.split("=") for p in r["parameters"].split(";") if p)
        k_given = r["operation_rate"] != ""
        k = Fraction(r["operation_rate"]) if k_given else Fraction(1)
        base_unit, factor = ACTIVITY_TO_BASE[r["activity_unit"]]
        act = Fraction(r["activity"]) * factor
        act_text = (f"({r['activity']} {r['activity_unit']} = {exact(act)} {base_unit})"
                    if factor != 1 else f"{r['activity']} {base_unit}")
        for pollutant in sorted(coef[key], key=POLLUTANT_ORDER.index):
            listed = coef[key][pollutant]
            tech, why = choose_treatment(items, pollutant, listed)
            c = listed[tech]
            num, den = c["unit"].split("/")
            den = den.replace("-原料", "").replace("-产品", "")
            assert den == base_unit, (c["unit"], r["activity_unit"])
            to_report, report_unit = NUMERATOR_TO_REPORT[num]
            g = c["generation_coefficient"]
            m = re.fullmatch(r"([0-9.]+)S", g)
            if m:
                s = Fraction(params["S"])
                gcoef = Fraction(m.group(1)) * s
                gtext = f"{m.group(1)}×S = {m.group(1)}×{params['S']} = {exact(gcoef)} {num}/{den}"
            else:
                gcoef = Fraction(g)
                gtext = f"{g} {c['unit']}"
            gen = gcoef * act * to_report
            conv = lambda q: "" if num == report_unit else f" = {exact(q * to_report)} {report_unit}"
            arith = [f"generated = {gtext} × {act_text} = {exact(gcoef * act)} {num}"
                     + conv(gcoef * act)]
            if c["emission_coefficient"] != "":
                ecoef = Fraction(c["emission_coefficient"])
                emi = ecoef * act * to_report
                arith.append(f"emitted = {c['emission_coefficient']} ({tech}) × {exact(act)} "
                             f"= {exact(ecoef * act)} {num}" + conv(ecoef * act))
                uses_k = False
            else:
                eff = Fraction(c["removal_efficiency"])
                emi = gen * (1 - eff / 100 * k)
                ktext = exact(k) + ("" if k_given else " (operation_rate missing → k = 1)")
                arith.append(f"emitted = {exact(gen)} × (1 − {c['removal_efficiency']}/100 × "
                             f"{ktext}) = {exact(gen)} × {exact(1 - eff / 100 * k)} = "
                             f"{exact(emi)} {report_unit}")
                uses_k = eff != 0
            row_flags = []
            if why.startswith("fallback"):
                row_flags.append(f"treatment {why} → 直排")
            if uses_k and not k_given:
                row_flags.append("k assumed 1 (operation_rate missing)")
            results.append(dict(row=i, year=year, uscc=r["uscc"], unit_id=r["unit_id"],
                                province=ent["region_code"][:2] + "0000", pollutant=pollutant,
                                tech=tech, why=why, gen=gen, emi=emi, report_unit=report_unit,
                                arith=arith, flags=row_flags, key=key, how=how,
                                treatment_text=r["treatment"]))
            for fl in row_flags:
                flags.append((i, r["uscc"], pollutant, fl))
        if (items and not k_given and not all(t == "直排" for _, t in items)
                and not any(fl.startswith("k assumed") for x in results if x["row"] == i
                            for fl in x["flags"])):
            flags.append((i, r["uscc"], "*", "operation_rate missing on a treated row "
                                             "(k = 1 under the nominal policy; no effect here: "
                                             "emission coefficients)"))
    return rows, registry, results, excluded, flags


def totals_of(results):
    by_prov = OrderedDict()
    for year in (2022, 2023):
        for prov in PROVINCE_ORDER:
            for pol in POLLUTANT_ORDER:
                sel = [x for x in results if x["year"] == year and x["province"] == prov
                       and x["pollutant"] == pol]
                if sel:
                    by_prov[(year, prov, pol)] = (sum((x["gen"] for x in sel), Fraction(0)),
                                                  sum((x["emi"] for x in sel), Fraction(0)),
                                                  sel[0]["report_unit"], len({x["row"] for x in sel}))
    national = OrderedDict()
    for year in (2022, 2023):
        for pol in POLLUTANT_ORDER:
            sel = [x for x in results if x["year"] == year and x["pollutant"] == pol]
            if sel:
                national[(year, pol)] = (sum((x["gen"] for x in sel), Fraction(0)),
                                         sum((x["emi"] for x in sel), Fraction(0)),
                                         sel[0]["report_unit"], len({x["row"] for x in sel}))
    return by_prov, national


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_outputs(coef_path, regions, computed):
    rows, registry, results, excluded, flags = computed
    by_prov, national = totals_of(results)

    # expected_totals.csv — exact decimals; province_code 000000 = national (sum of provinces)
    out = []
    for (year, prov, pol), (g, e, unit, n) in by_prov.items():
        out.append([year, prov, pol, exact(g), exact(e), unit, n])
    for (year, pol), (g, e, unit, n) in national.items():
        out.append([year, "000000", pol, exact(g), exact(e), unit, n])
    write_csv(os.path.join(HERE, "expected_totals.csv"),
              ["year", "province_code", "pollutant", "generated", "emitted", "unit", "rows"], out)

    # manifest.toml
    with open(os.path.join(HERE, "manifest.toml"), "w", encoding="utf-8", newline="\n") as f:
        f.write('id = "sample-synthetic"\n'
                'title = "Synthetic sample: sheep slaughter, boilers and power plants in 内蒙古, '
                '河北 and 山东 (2022–2023)"\n'
                "synthetic = true\n"
                'description = """\n'
                "SYNTHETIC sample for demos and tests. 30 fictional enterprises (names marked "
                "（样例）) placed in real GB/T 2260 counties\nof 内蒙古, 河北 and 山东, with valid "
                "but invented unified social credit codes. Activity levels are invented but\n"
                "plausible. The coefficients are the real first-census excerpt (npsc1-excerpt). "
                "Not real data about any enterprise.\n"
                '"""\n'
                'coefficient_set = "npsc1-excerpt"\n'
                "years = [2022, 2023]\n"
                'registry = "registry.csv"\n'
                'activity = "activity.csv"\n'
                'permit_reports = "permit_reports.csv"\n'
                'generated_by = "generate.py"\n')

    prov_name = lambda code: PROVINCE_NAMES[code[:2] + "0000"]
    name_of = {u: r["name"] for u, r in registry.items()}
    region_name = lambda code: regions[code]["name"]
    pref_name = lambda code: regions[regions[code]["parent"]]["name"]

    # EXPECTED.md
    L = []
    L.append("# Expected results of the synthetic sample — independent hand computation\n")
    L.append("**SYNTHETIC DATA.** Computed by `generate.py` with Python `fractions.Fraction` (exact "
             "rational arithmetic) from `activity.csv`, `registry.csv` and the coefficient excerpt; "
             "no npsc code is involved. Values are exact decimals (every input is a finite decimal "
             "and every conversion a power of ten, so the results are finite decimals); the "
             "9-significant-digit rounding is given next to them where it differs.\n")
    L.append(f"- Coefficients: `coefficients_npsc1_excerpt.csv`, SHA-256 "
             f"`{sha256_of(coef_path)}`")
    L.append(f"- activity.csv SHA-256 `{sha256_of(os.path.join(HERE, 'activity.csv'))}`")
    L.append(f"- registry.csv SHA-256 `{sha256_of(os.path.join(HERE, 'registry.csv'))}`\n")
    L.append("## Rules applied\n")
    L.append("1. Row numbers are lines of `activity.csv` (the header is row 1).")
    L.append("2. `industry_code` empty → the registry's. Key = (industry, product, raw material, "
             "process, scale class); the scale class is the `scale` label when given, else the "
             "class whose bound the `capacity` (in `capacity_unit`) satisfies (`≥1500头/天屠宰` "
             "includes 1500; `所有规模` matches any).")
    L.append("3. Closed enterprise: a row whose year is after the year of the closure date is "
             "excluded (flagged, not in totals); the closure year itself is accounted. `停产` "
             "rows are accounted.")
    L.append("4. Treatment per pollutant: the technology prefixed with that pollutant "
             "(`二氧化硫:…`); else the declared unprefixed technology that the table lists for "
             "that pollutant; else `直排` (flagged as a fallback).")
    L.append("5. Activity converted to the coefficient's denominator: 万头 → 头 ×10 000, 万吨 → 吨 "
             "×10 000.")
    L.append("6. generated = generation coefficient × activity (`16S` = 16 × S, S from "
             "`parameters`). emitted = emission coefficient × activity when the row has one "
             "(1351, 4411, 4430 NOx), else generated × (1 − efficiency/100 × k) (4430 SO2), "
             "k = operation_rate, or 1 when it is missing.")
    L.append("7. Report units: 克 → t ÷1 000 000; 千克 → t ÷1 000; 吨 as is (工业废水量 is tonnes "
             "of water); 标立方米 → 万标立方米 ÷10 000.\n")

    L.append("## Rows not in the totals\n")
    for i, r, why in excluded:
        L.append(f"- Row {i} ({r['year']}, `{r['uscc']}` {name_of[r['uscc']]}, {r['unit_id']}, "
                 f"{r['product']}/{r['raw_material']}): {why}.")
    L.append("")
    L.append("## Flags expected on accounted rows\n")
    for i, u, pol, fl in flags:
        L.append(f"- Row {i} `{u}` {pol}: {fl}")
    L.append("")

    L.append("## Per row and pollutant\n")
    current = None
    for x in results:
        if x["row"] != current:
            current = x["row"]
            r = rows[current - 2]
            L.append("")
            L.append(f"### Row {current} — {x['year']} · `{x['uscc']}` "
                     f"{name_of[x['uscc']]} · {x['unit_id']}\n")
            L.append(f"Key {' / '.join(x['key'])} ({x['how']}); treatment `{x['treatment_text']}`"
                     f"; k = {r['operation_rate'] or '(missing)'}; parameters "
                     f"`{r['parameters'] or '—'}`.\n")
        s_g, s_e = sig9(x["gen"]), sig9(x["emi"])
        gtxt = exact(x["gen"]) + ("" if s_g == exact(x["gen"]) else f" (≈ {s_g})")
        etxt = exact(x["emi"]) + ("" if s_e == exact(x["emi"]) else f" (≈ {s_e})")
        flag = f" — **{'; '.join(x['flags'])}**" if x["flags"] else ""
        L.append(f"- Row {x['row']} · `{x['uscc']}` · **{x['pollutant']}** [{x['tech']}, "
                 f"{x['why']}]: generated **{gtxt}**, emitted **{etxt}** {x['report_unit']}{flag}")
        for a in x["arith"]:
            L.append(f"  - {a}")
    L.append("")

    def totals_table(items, with_prov):
        T = []
        if with_prov:
            T.append("| year | province | pollutant | generated | emitted | unit | rows |")
            T.append("|---|---|---|---:|---:|---|---:|")
        else:
            T.append("| year | pollutant | generated | emitted | unit | rows |")
            T.append("|---|---|---:|---:|---|---:|")
        for k_, (g, e, unit, n) in items.items():
            gt = exact(g) + ("" if sig9(g) == exact(g) else f" (≈ {sig9(g)})")
            et = exact(e) + ("" if sig9(e) == exact(e) else f" (≈ {sig9(e)})")
            if with_prov:
                year, prov, pol = k_
                T.append(f"| {year} | {prov} {PROVINCE_NAMES[prov]} | {pol} | {gt} | {et} | "
                         f"{unit} | {n} |")
            else:
                year, pol = k_
                T.append(f"| {year} | {pol} | {gt} | {et} | {unit} | {n} |")
        return T

    L.append("## Totals per year × province × pollutant\n")
    L.extend(totals_table(by_prov, True))
    L.append("")
    L.append("## National totals per year × pollutant\n")
    L.extend(totals_table(national, False))
    L.append("")
    L.append("Machine-readable: `expected_totals.csv` (exact decimals; `province_code` `000000` "
             "marks the national rows; `rows` = accounted activity rows contributing).\n")
    with open(os.path.join(HERE, "EXPECTED.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(L))

    # README.md
    row_of = {}
    for i, r in enumerate(rows, start=2):
        row_of.setdefault((r["year"], r["uscc"], r["unit_id"]), i)
    uscc_by_key = {}
    for (key, county, *_), u in zip(ENTERPRISES, registry):
        uscc_by_key[key] = u

    def ref(key, year, unit="MF0001"):
        u = uscc_by_key[key]
        return f"row {row_of[(str(year), u, unit)]}"

    def ent(key):
        u = uscc_by_key[key]
        return f"`{u}` {name_of[u]}"

    counties = OrderedDict()
    for key, county, ind, name, *_ in ENTERPRISES:
        counties.setdefault(county, []).append(key)

    R_ = []
    R_.append("# sample-synthetic — bundled SYNTHETIC sample dataset\n")
    R_.append("> **⚠ SYNTHETIC DATA — NOT REAL.** The 30 enterprises are fictional: every name "
              "starts with `示例` and ends with `（样例）`. Their unified social credit codes are "
              "invented (valid under GB 32100 and GB 11714, but not registered to anyone); the "
              "activity levels are invented but plausible. Only the county codes (GB/T 2260, "
              "2023) and the coefficients (first national pollution-source census excerpt, "
              "`npsc1-excerpt`) are real. Do not cite any number here as a statistic.\n")
    R_.append("## Files\n")
    R_.append("| file | content |\n|---|---|")
    R_.append(f"| `registry.csv` | {len(registry)} enterprises: `uscc,name,region_code,industry_code,"
              "status,status_date,permit_no` |")
    R_.append(f"| `activity.csv` | {len(rows)} activity rows for 2022 and 2023 "
              f"({sum(1 for r in rows if r['year'] == '2022')} + "
              f"{sum(1 for r in rows if r['year'] == '2023')}) |")
    R_.append("| `manifest.toml` | dataset id, coefficient set `npsc1-excerpt`, years, file names |")
    R_.append("| `EXPECTED.md` | independent hand computation, row by row, with totals |")
    R_.append("| `expected_totals.csv` | the totals, machine-readable, exact decimals |")
    R_.append("| `permit_reports.csv` | SYNTHETIC permit execution reports (实际排放量) for 2022 and "
              "2023 with deliberate discrepancies; see *Permit execution reports* below |")
    R_.append("| `generate.py` | the deterministic generator of all of the above (stdlib only; "
              "`permit_reports.py` writes the permit reports) |")
    R_.append("| `../../tests/fixtures/sample-activity-gbk.csv` | the same activity rows with the "
              "Chinese headers, GBK-encoded, CRLF line endings (encoding test) |\n")
    R_.append("UTF-8 without BOM, comma-separated, English headers, LF line endings.\n")
    R_.append("## Where the enterprises are\n")
    R_.append("| province | prefecture | county | code | enterprises | industry |\n"
              "|---|---|---|---|---|---|")
    ind_of = {e[0]: e[2] for e in ENTERPRISES}
    for county, keys in counties.items():
        R_.append(f"| {prov_name(county)} | {pref_name(county)} | {region_name(county)} | "
                  f"{county} | {', '.join(keys)} | {', '.join(sorted({ind_of[k] for k in keys}))} |")
    R_.append("")
    R_.append("Enterprise keys (E01…E30) are the order of `registry.csv`; `generate.py` uses them. "
              "内蒙古: 6 banners of 锡林郭勒盟 plus 巴彦淖尔, 呼伦贝尔, 鄂尔多斯, 呼和浩特, 乌兰察布; "
              "河北: 石家庄 (3 counties), 唐山 (3), 邯郸 (2), 保定 (1); 山东: 济南 (2), 潍坊 (3), "
              "临沂 (2), 聊城, 菏泽.\n")
    R_.append("## What it exercises\n")
    R_.append("Row numbers are lines of `activity.csv` (header = row 1).\n")
    cases = [
        ("Scale given as a label `≥1500头/天屠宰`", f"E01 {ent('E01')}: {ref('E01', 2022)}"),
        ("Capacity exactly `1500` `头/天` (boundary, falls into `≥1500头/天屠宰`)",
         f"E02 {ent('E02')}: {ref('E02', 2023)} (the same plant gives the label in "
         f"{ref('E02', 2022)})"),
        ("Capacity instead of a label, other values",
         f"E03 2000 头/天 ({ref('E03', 2022)}), E10 1800 ({ref('E10', 2022)}), E11/MF0002 1600 "
         f"({ref('E11', 2022, 'MF0002')}), E09 1200 ({ref('E09', 2022)}), E05 800 "
         f"({ref('E05', 2022)}); power plant E22 `1000` `兆瓦` ({ref('E22', 2022)})"),
        ("`物理+厌氧/好氧生物组合工艺` (≥1500)",
         f"E01 ({ref('E01', 2022)}), E03, E10, E11/MF0002 in 2023 "
         f"({ref('E11', 2023, 'MF0002')})"),
        ("`沉淀分离` (≥1500)", f"E02, E07, E11 ({ref('E02', 2022)}, {ref('E07', 2022)}, "
                              f"{ref('E11', 2022)})"),
        ("Small plant (<1500) with `化学+好氧生物处理`", f"E04 {ent('E04')}: {ref('E04', 2022)}; "
                                                 "also E05, E08, E09, E12"),
        ("Small plant with `直排`", f"E06 {ent('E06')}: {ref('E06', 2022)}, {ref('E06', 2023)}"),
        ("Declared technology not listed for the class → `直排` fallback for every pollutant "
         "(`沉淀分离` exists only for ≥1500)",
         f"E23 {ent('E23')} (山东's slaughterhouse): {ref('E23', 2022)}, {ref('E23', 2023)}"),
        ("Activity in `万头`", f"E01 2023 ({ref('E01', 2023)}), E05 2023 ({ref('E05', 2023)}), "
                             f"E08 ({ref('E08', 2022)}, {ref('E08', 2023)}), E10 2023 "
                             f"({ref('E10', 2023)})"),
        ("Boiler SO2 `二氧化硫:湿式除尘脱硫` with k = 0.8, S = 1.2 (NOx falls back to 直排)",
         f"E13 {ent('E13')}: {ref('E13', 2022)}, {ref('E13', 2023)}"),
        ("Boiler `湿法除尘法`", f"E14 ({ref('E14', 2022)}), E25 ({ref('E25', 2022)}), E19 ({ref('E19', 2022)})"),
        ("Boiler `炉内脱硫`", f"E16 ({ref('E16', 2022)}), E26 ({ref('E26', 2022)})"),
        ("Boiler `添加脱硫剂` with no operation_rate (k = 1 assumed, flagged)",
         f"E17 {ent('E17')}: {ref('E17', 2022)}, {ref('E17', 2023)}"),
        ("Other missing operation_rate on treated rows (k = 1 flagged)",
         f"E25 2023 `湿法除尘法` ({ref('E25', 2023)}); E03 2023 slaughter ({ref('E03', 2023)}, "
         "no effect: emission coefficients)"),
        ("Boiler `添加固硫剂` in `万吨`", f"E15 {ent('E15')}: {ref('E15', 2022)}, "
                                      f"{ref('E15', 2023)}"),
        ("Prefixed technology wins over an unprefixed one (`湿法除尘法;二氧化硫:炉内脱硫` → SO2 "
         "uses 炉内脱硫)", f"E21 ({ref('E21', 2022)}, {ref('E21', 2023)})"),
        ("Other prefixed SO2 technologies", f"E27 `二氧化硫:添加固硫剂` ({ref('E27', 2022)}), "
                                           f"E29 `二氧化硫:湿法除尘法` ({ref('E29', 2022)})"),
        ("Boiler `直排` (efficiency 0)", f"E20 ({ref('E20', 2022)}), E28 ({ref('E28', 2022)})"),
        ("Power plant, scale label `≥750兆瓦`, `直排`, coal in 万吨",
         f"E18 {ent('E18')}: {ref('E18', 2022)}, {ref('E18', 2023)}"),
        ("Power plant, capacity 1000 兆瓦, technologies not in the table for 工业废气量 → 直排 "
         "fallback; two units", f"E22 {ent('E22')}: {ref('E22', 2022)}, "
                               f"{ref('E22', 2022, 'MF0002')}, {ref('E22', 2023)}, "
                               f"{ref('E22', 2023, 'MF0002')}"),
        ("Closed enterprise (关闭 2022-09-30): 2022 accounted, 2023 excluded and flagged",
         f"E19 {ent('E19')}: {ref('E19', 2022)} accounted, **{ref('E19', 2023)} excluded**"),
        ("Suspended enterprise (停产 2023-06-30): still accounted in both years",
         f"E26 {ent('E26')}: {ref('E26', 2022)}, {ref('E26', 2023)}"),
        ("The single row that matches no coefficient key (冻牛肉 / 牛): unaccounted",
         f"E07 {ent('E07')} unit MF0002: **{ref('E07', 2023, 'MF0002')}**"),
        ("Empty `industry_code` (defaults to the registry's)",
         ", ".join(f"row {i}" for i, r in enumerate(rows, start=2) if not r["industry_code"])),
        ("Empty `permit_no`", ", ".join(f"E{k[1:]}" for k, *_rest, p in ENTERPRISES if not p)),
    ]
    R_.append("| case | where |\n|---|---|")
    for c, w in cases:
        R_.append(f"| {c} | {w} |")
    R_.append("")
    R_.append("Not exercised: a boiler given by capacity instead of the `所有规模` label (every "
              "4430 row carries the label), and two unprefixed technologies listed for the same "
              "pollutant (ambiguous by the rules).\n")
    R_.append("## How it was generated\n")
    R_.append("`generate.py` (Python 3, standard library only, deterministic, no randomness) "
              "writes every file of this folder and the GBK fixture:\n")
    R_.append("```sh\ncd datasets/sample-synthetic\npython3 generate.py \\\n"
              "  --regions PATH/TO/regions_gbt2260.csv \\\n"
              "  --coefficients PATH/TO/coefficients_npsc1_excerpt.csv\n```\n")
    R_.append("- USCC: `9` (工商) `1` (企业) + the county code + an organization code `MA` + 6 "
              "characters taken from SHA-256 of a fixed key, mapped onto the GB 32100 charset, + its "
              "GB 11714 check character, + the GB 32100 check character. The script first checks "
              "the test vectors `91350100M000100Y43` (valid), `91512081MA62K0260E` (valid) and "
              "`91350100M000100Y4Z` (invalid), and asserts every generated code is valid.")
    R_.append("- `permit_no` = USCC + `001P` (empty for four small enterprises: E06, E12, E23, "
              "E28).")
    R_.append("- The activity rows are written literally in the script; it then reads "
              "`activity.csv` and `registry.csv` back and computes `EXPECTED.md` and "
              "`expected_totals.csv` with exact rational arithmetic, independently of npsc.")
    R_.append("- The GBK twin is the same rows, Chinese headers (年份, 统一社会信用代码, 生产单元编号, "
              "行业代码, 产品名称, 原料名称, 工艺名称, 规模等级, 生产规模, 规模单位, 末端治理技术名称, "
              "活动水平, 计量单位, 治理设施运行率, 参数, 排放口编号) in the same order, encoded with "
              "Python's `gbk` codec and CRLF line endings.\n")
    R_.append("## Hand computation summary\n")
    R_.append(f"{len(rows)} rows: {len(rows) - len(excluded)} accounted, {len(excluded)} "
              "excluded (one closed-enterprise row, one unmatched row). Full arithmetic in "
              "`EXPECTED.md`. National totals (masses in t, flue gas in 万标立方米):\n")
    R_.extend(totals_table(national, False))
    R_.append("")
    R_.append("Per province (`province_code` as in `expected_totals.csv`):\n")
    R_.extend(totals_table(by_prov, True))
    R_.append("")
    with open(os.path.join(HERE, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(R_))
    return by_prov, national


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--regions", required=True, help="regions_gbt2260.csv (code,name,level,parent)")
    ap.add_argument("--coefficients", required=True, help="coefficients_npsc1_excerpt.csv")
    args = ap.parse_args()
    self_test()
    regions, _ = generate(args.regions)
    computed = compute(args.coefficients)
    _, national = write_outputs(args.coefficients, regions, computed)
    rows, registry, results, excluded, _ = computed
    print(f"{len(rows)} activity rows, {len(excluded)} excluded, {len(results)} results")
    import permit_reports  # next to this script

    key_of_uscc = {u: e[0] for e, u in zip(ENTERPRISES, registry)}
    expected_section, readme_section = permit_reports.run(rows, registry, results, key_of_uscc)
    for name, section in (("EXPECTED.md", expected_section), ("README.md", readme_section)):
        with open(os.path.join(HERE, name), "a", encoding="utf-8", newline="\n") as f:
            f.write("\n" + "\n".join(section))
    print("permit_reports.csv written")
    for (year, pol), (g, e, unit, n) in national.items():
        print(year, pol, exact(g), exact(e), unit, n)


if __name__ == "__main__":
    sys.exit(main())
