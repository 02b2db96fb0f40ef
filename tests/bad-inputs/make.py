#!/usr/bin/env python3
"""Writes the bad-input corpus: one small file per case under tests/bad-inputs/<reader>/.

Run from anywhere: `python3 tests/bad-inputs/make.py`. Deterministic: the same bytes every run
(the workbooks' timestamps are fixed). The workbook cases need openpyxl; the encrypted one needs
msoffcrypto-tool (`pip install openpyxl msoffcrypto-tool`); without them those files are kept as
they are. Very large cases (10^6 columns, thousands of digits, a sheet whose used area is 17
billion cells) are not written here: tests/it/bad_corpus.rs builds them in memory at test time.

What each case must produce is in expected.csv beside this script; README.md describes the corpus.
"""

import io
import os
import re
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))

# One good line of each format, from datasets/sample-synthetic and coefficients/npsc1-excerpt.
ACT_H = "year,uscc,product,raw_material,process,scale,treatment,activity,activity_unit"
ACT = ["2022", "91152502MA2BPPBJ0K", "冻羊肉", "羊", "屠宰、分割", "≥1500头/天屠宰", "沉淀分离",
       "612000", "头"]
ACT_P_H = ACT_H + ",parameters"
# A boiler row with a sulfur parameter (coefficient 16S).
ACT_P = ["2022", "91130109MAK4GR6066", "蒸汽", "煤炭", "层燃炉", "所有规模", "湿式除尘脱硫", "12000",
         "吨", "S=1.2"]
REG_H = "uscc,name,region_code,industry_code,status,status_date,permit_no"
REG = ["91152502MA2BPPBJ0K", "示例锡林浩特草原羊肉食品有限公司（样例）", "152502", "1351", "运行", "",
       "91152502MA2BPPBJ0K001P"]
COEF_H = ("industry_code,product,raw_material,process,scale,pollutant,unit,"
          "generation_coefficient,treatment,removal_efficiency,emission_coefficient,source")
COEF = ["4430", "蒸汽", "煤炭", "层燃炉", "所有规模", "二氧化硫", "千克/吨-原料", "16S", "直排", "0", "",
        "x"]
PERMIT_H = "统一社会信用代码,排放口编号,污染物,核算时段,实际排放量(吨),核算方法"
PERMIT = ["91152502MA2BPPBJ0K", "DW001", "化学需氧量", "2022年第1季度", "2.971", "手工监测"]
DOM_H = "年份,行政区划代码,来源,活动水平,计量单位,天数"
DOM = ["2022", "130100", "城镇居民", "500", "万人", "365"]
MOBILE_H = "年份,行政区划代码,来源,污染物,排放量(吨)"
MOBILE = ["2022", "130100", "机动车", "氮氧化物", "21000"]
CAPS_H = "行政区划代码,污染物,年份,总量控制指标(吨)"
CAPS = ["150000", "化学需氧量", "2022", "600"]


def with_cell(row, index, value):
    out = list(row)
    out[index] = value
    return out


def line(cells):
    return ",".join(cells)


def text(*lines, end="\n"):
    return ("\n".join(lines) + end).encode("utf-8")


def write(name, data):
    path = os.path.join(HERE, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def csv_cases():
    a = lambda *rows: text(ACT_H, *[line(r) for r in rows])  # noqa: E731
    act_cell = lambda i, v: a(with_cell(ACT, i, v))  # noqa: E731
    activity = {
        # Structure.
        "empty.csv": b"",
        "blank-lines-only.csv": b"\n\n  \n",
        "header-only.csv": text(ACT_H),
        "unclosed-quote.csv": a(ACT) + line(with_cell(ACT, 2, '"冻羊肉')).encode() + b"\n",
        "unbalanced-quote-middle.csv": a(with_cell(ACT, 2, '"冻羊肉'), ACT, ACT),
        "quote-inside-field.csv": act_cell(2, '冻"羊"肉'),
        "ragged-short.csv": text(ACT_H, line(ACT[:-2])),
        "ragged-long.csv": text(ACT_H, line(ACT + ["x"])),
        "unquoted-thousands.csv": act_cell(7, "612,000"),
        "nul-byte.csv": act_cell(2, "冻羊\0肉"),
        "truncated-mid-row.csv": a(ACT) + line(ACT[:4]).encode(),
        "truncated-mid-character.csv": a(ACT) + line(ACT).encode()[:-1],
        "no-header.csv": text(line(ACT), line(ACT)),
        "semicolons.csv": text(ACT_H.replace(",", ";"), ";".join(ACT)),
        "tabs.csv": text(ACT_H.replace(",", "\t"), "\t".join(ACT)),
        "duplicate-header.csv": text(ACT_H + ",product", line(ACT + ["冻羊肉"])),
        "missing-header.csv": text(ACT_H.replace(",activity,", ","), line(ACT[:7] + ACT[8:])),
        "empty-header-name.csv": text(ACT_H + ",", line(ACT + ["x"])),
        "unknown-header.csv": text(ACT_H + ",备注2", line(ACT + ["x"])),
        "cr-only.csv": (ACT_H + "\r" + line(ACT) + "\r").encode("utf-8"),
        # Encodings and byte-order marks.
        "invalid-utf8.csv": a(ACT).replace("冻羊肉".encode(), b"\xe5\x86\xbb\xff\xe8\x82\x89"),
        "invalid-utf8-even.csv": a(ACT, with_cell(ACT, 4, "屠宰")).replace(
            "沉淀分离".encode(), "沉淀分离".encode()[:-1], 1),
        "gbk-broken.csv": a(ACT).decode().encode("gb18030").replace(
            "冻羊肉".encode("gb18030"), "冻羊".encode("gb18030") + b"\xc8"),
        "gbk-truncated-end.csv": (ACT_H + "\n" + line(ACT[:-1]) + ",").encode("gb18030")
        + "头".encode("gb18030")[:1],
        "bom-utf16le.csv": "\ufeff".encode("utf-16-le") + a(ACT).decode().encode("utf-16-le"),
        "utf16-no-bom.csv": a(ACT).decode().encode("utf-16-le"),
        "bom-twice.csv": b"\xef\xbb\xbf\xef\xbb\xbf" + a(ACT),
        "bom-mid-file.csv": a(ACT) + b"\xef\xbb\xbf" + line(ACT).encode() + b"\n",
        "bom-then-gbk.csv": b"\xef\xbb\xbf" + a(ACT).decode().encode("gb18030"),
        # Numbers in the activity column.
        "number-1e400.csv": act_cell(7, "1e400"),
        "number-nan.csv": act_cell(7, "NaN"),
        "number-inf.csv": act_cell(7, "inf"),
        "number-negative-zero.csv": act_cell(7, "-0"),
        "number-negative.csv": act_cell(7, "-5"),
        "number-thousands.csv": act_cell(7, '"1,234.5"'),
        "number-fullwidth.csv": act_cell(7, "１２３"),
        "number-fullwidth-decimal.csv": act_cell(7, "１２．５"),
        "number-exponent.csv": act_cell(7, "1.5e3"),
        "number-space-inside.csv": act_cell(7, "12 345"),
        "number-percent.csv": act_cell(7, "5%"),
        "number-hex.csv": act_cell(7, "0x10"),
        "number-arabic-indic.csv": act_cell(7, "١٢٣"),
        "number-comma-decimal.csv": act_cell(7, '"12,5"'),
        # Years, codes, parameters.
        "year-float.csv": act_cell(0, "2022.0"),
        "year-two-digit.csv": act_cell(0, "22"),
        "year-fullwidth.csv": act_cell(0, "２０２２"),
        "year-out-of-range.csv": act_cell(0, "1900"),
        "uscc-space-inside.csv": act_cell(1, "91152502 MA2BPPBJ0K"),
        "uscc-fullwidth.csv": act_cell(1, "９１１５２５０２ＭＡ２ＢＰＰＢＪ０Ｋ"),
        "uscc-lowercase.csv": act_cell(1, "91152502ma2bppbj0k"),
        "uscc-surrounding-spaces.csv": act_cell(1, " 91152502MA2BPPBJ0K\u3000"),
        "product-fullwidth-space.csv": act_cell(2, "冻\u3000羊肉"),
    }
    pa = lambda v: text(ACT_P_H, line(with_cell(ACT_P, 9, v)))  # noqa: E731
    activity.update({
        "parameters-1e400.csv": pa("S=1e400"),
        "parameters-nan.csv": pa("S=NaN"),
        "parameters-duplicate.csv": pa("S=1.2; S=1.3"),
        "parameters-function-name.csv": pa("sqrt=4"),
        "parameters-division-by-zero.csv": pa("S=0"),
        "parameters-missing.csv": text(ACT_P_H, line(with_cell(ACT_P, 9, ""))),
    })
    for name, data in activity.items():
        write(f"activity/{name}", data)

    r = lambda *rows: text(REG_H, *[line(x) for x in rows])  # noqa: E731
    reg_cell = lambda i, v: r(with_cell(REG, i, v))  # noqa: E731
    registry = {
        "empty.csv": b"",
        "header-only.csv": text(REG_H),
        "duplicate-enterprise.csv": r(REG, REG),
        "duplicate-header.csv": text(REG_H + ",uscc", line(REG + [REG[0]])),
        "missing-header.csv": text(REG_H.replace("status,", ""), line(REG[:4] + REG[5:])),
        "region-fullwidth.csv": reg_cell(2, "１５２５０２"),
        "region-space-inside.csv": reg_cell(2, "152 502"),
        "industry-fullwidth.csv": reg_cell(3, "Ｃ１３５１"),
        "industry-space-inside.csv": reg_cell(3, "C 1351"),
        "status-unknown.csv": reg_cell(4, "营业"),
        "date-iso.csv": reg_cell(5, "2022-09-30"),
        "date-slashes.csv": reg_cell(5, "2022/9/30"),
        "date-chinese.csv": reg_cell(5, "2022年9月30日"),
        "date-compact.csv": reg_cell(5, "20220930"),
        "date-day-first.csv": reg_cell(5, "30/09/2022"),
        "date-month-first.csv": reg_cell(5, "09/30/2022"),
        "date-february-30.csv": reg_cell(5, "2022-02-30"),
        "date-excel-1900-leap.csv": reg_cell(5, "1900-02-29"),
        "date-excel-serial.csv": reg_cell(5, "44834"),
        "date-with-time.csv": reg_cell(5, "2022-09-30 10:00:00"),
        "date-iso-t.csv": reg_cell(5, "2022-09-30T00:00:00"),
        "date-year-zero.csv": reg_cell(5, "0000-01-01"),
        "date-far-future.csv": reg_cell(5, "9999-12-31"),
        "date-fullwidth.csv": reg_cell(5, "２０２２－０９－３０"),
        "name-nul.csv": reg_cell(1, "示例\0公司"),
        "gbk.csv": r(REG).decode().encode("gb18030"),
    }
    for name, data in registry.items():
        write(f"registry/{name}", data)

    c = lambda *rows: text(COEF_H, *[line(x) for x in rows])  # noqa: E731
    coef_cell = lambda i, v: c(with_cell(COEF, i, v))  # noqa: E731
    coefficients = {
        "empty.csv": b"",
        "header-only.csv": text(COEF_H),
        "formula-deep-nesting.csv": coef_cell(7, "(" * 40 + "S" + ")" * 40),
        "formula-huge-exponent.csv": coef_cell(7, "10^400"),
        "formula-power-tower.csv": coef_cell(7, "S^S^S^S"),
        "formula-division-by-zero.csv": coef_cell(7, "1/0"),
        "formula-zero-over-zero.csv": coef_cell(7, "0/0"),
        "formula-parameter-division-by-zero.csv": coef_cell(7, "16/(S-S)"),
        "formula-function-sqrt.csv": coef_cell(7, "sqrt(S)"),
        "formula-function-ln.csv": coef_cell(7, "16ln(S)"),
        "formula-function-max.csv": coef_cell(7, "max(S,2)"),
        "formula-exponent-notation.csv": coef_cell(7, "1.6e1S"),
        "formula-long-number.csv": coef_cell(7, "1" + "0" * 250),
        "formula-fullwidth.csv": coef_cell(7, "１６Ｓ"),
        "formula-percent.csv": coef_cell(7, "16%S"),
        "number-nan.csv": coef_cell(7, "NaN"),
        "number-1e400.csv": coef_cell(7, "1e400"),
        "efficiency-over-100.csv": coef_cell(9, "150"),
        "efficiency-negative.csv": coef_cell(9, "-10"),
        "efficiency-nan.csv": coef_cell(9, "NaN"),
        "efficiency-1e400.csv": coef_cell(9, "1e400"),
        "both-removal-forms.csv": coef_cell(10, "0.5"),
        "duplicate-row.csv": c(COEF, COEF),
        "industry-fullwidth.csv": coef_cell(0, "４４３０"),
        "unit-qualifier-free-text.csv": coef_cell(6, "千克/吨-原料-x"),
        "unknown-pollutant.csv": coef_cell(5, "二氧化硫x"),
    }
    for name, data in coefficients.items():
        write(f"coefficients/{name}", data)

    p = lambda *rows: text(PERMIT_H, *[line(x) for x in rows])  # noqa: E731
    permit_cell = lambda i, v: p(with_cell(PERMIT, i, v))  # noqa: E731
    permit = {
        "empty.csv": b"",
        "reported-1e400.csv": permit_cell(4, "1e400"),
        "reported-nan.csv": permit_cell(4, "NaN"),
        "reported-negative-zero.csv": permit_cell(4, "-0"),
        "reported-thousands.csv": permit_cell(4, '"2,971.5"'),
        "reported-fullwidth.csv": permit_cell(4, "２.９７１"),
        "reported-many-digits.csv": permit_cell(4, "2." + "9" * 3000),
        "period-quarter-5.csv": permit_cell(3, "2022Q5"),
        "period-month-13.csv": permit_cell(3, "2022-13"),
        "period-chinese-quarter-5.csv": permit_cell(3, "2022年第5季度"),
        "period-date.csv": permit_cell(3, "2022-03-31"),
        "duplicate-line.csv": p(PERMIT, PERMIT),
        "uscc-fullwidth.csv": permit_cell(0, "９１１５２５０２ＭＡ２ＢＰＰＢＪ０Ｋ"),
        "gbk-broken.csv": p(PERMIT).decode().encode("gb18030").replace(
            "化学需氧量".encode("gb18030"), "化学需氧量".encode("gb18030")[:-1]),
    }
    for name, data in permit.items():
        write(f"permit/{name}", data)

    d = lambda i, v: text(DOM_H, line(with_cell(DOM, i, v)))  # noqa: E731
    for name, data in {
        "activity-1e400.csv": d(3, "1e400"),
        "activity-nan.csv": d(3, "NaN"),
        "days-negative-zero.csv": d(5, "-0"),
        "region-fullwidth.csv": d(1, "１３０１００"),
        "year-text.csv": d(0, "二〇二二"),
    }.items():
        write(f"domestic/{name}", data)
    m = lambda i, v: text(MOBILE_H, line(with_cell(MOBILE, i, v)))  # noqa: E731
    for name, data in {
        "emission-1e400.csv": m(4, "1e400"),
        "emission-nan.csv": m(4, "NaN"),
        "emission-negative-zero.csv": m(4, "-0"),
    }.items():
        write(f"mobile/{name}", data)
    q = lambda i, v: text(CAPS_H, line(with_cell(CAPS, i, v)))  # noqa: E731
    for name, data in {
        "cap-1e400.csv": q(3, "1e400"),
        "cap-nan.csv": q(3, "NaN"),
        "cap-infinity.csv": q(3, "infinity"),
        "cap-negative-zero.csv": q(3, "-0"),
        "cap-fullwidth.csv": q(3, "６００"),
    }.items():
        write(f"caps/{name}", data)


FIXED_TIME = (2024, 1, 1, 0, 0, 0)


def normalise_zip(data):
    """Rewrites a ZIP with fixed timestamps and entry order, so the bytes are reproducible."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename.endswith(".xml"):
                body = re.sub(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>", b"", body)
            fixed = zipfile.ZipInfo(info.filename, FIXED_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, body)
    return out.getvalue()


def cache_formula_values(data, values):
    """openpyxl writes formulas without their computed values, as Excel would not: add them.
    `values` maps a cell reference (`H3`) to the number Excel would have cached."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                for ref, value in values.items():
                    body = re.sub(
                        rb'(<c r="' + ref.encode() + rb'"[^>]*>)<f>([^<]*)</f><v\s*/?>(</v>)?',
                        lambda mo: mo.group(1) + b"<f>" + mo.group(2) + b"</f><v>"
                        + str(value).encode() + b"</v>",
                        body,
                    )
            dst.writestr(info, body)
    return out.getvalue()


def workbook_cases():
    try:
        import openpyxl
    except ImportError:
        print("openpyxl missing: workbook cases kept as they are")
        return

    def save(wb):
        buffer = io.BytesIO()
        wb.save(buffer)
        return buffer.getvalue()

    # Merged title, formulas with cached values, a date cell, a vertically merged product.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "活动水平"
    ws.append(["2022年活动水平（示例）"])
    ws.merge_cells("A1:I1")
    ws.append(ACT_H.split(","))
    ws.append([2022, ACT[1], ACT[2], ACT[3], ACT[4], ACT[5], ACT[6], "=306000*2", ACT[8]])
    ws.append([2022, ACT[1], ACT[2], ACT[3], ACT[4], ACT[5], ACT[6], "=H3/2", ACT[8]])
    formulas = cache_formula_values(normalise_zip(save(wb)), {"H3": 612000, "H4": 306000})
    write("excel/merged-title-and-formulas.xlsx", formulas)
    # The same workbook saved under a .csv name.
    write("activity/xlsx-named-csv.csv", formulas)

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "活动水平"
    ws.append(ACT_H.split(","))
    ws.append([2022, ACT[1], ACT[2], ACT[3], ACT[4], ACT[5], ACT[6], "=1/0", ACT[8]])
    write("excel/formula-without-value.xlsx", normalise_zip(save(wb)))

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "活动水平"
    ws.append(ACT_H.split(","))
    ws.append([2022, ACT[1], ACT[2], ACT[3], ACT[4], ACT[5], ACT[6], 612000, ACT[8]])
    ws.append([2022, ACT[1], None, ACT[3], ACT[4], ACT[5], ACT[6], 612000, ACT[8]])
    ws.append([2022, ACT[1], None, ACT[3], ACT[4], ACT[5], ACT[6], 612000, ACT[8]])
    ws.merge_cells("C2:C4")
    write("excel/merged-data-cells.xlsx", normalise_zip(save(wb)))

    # An error cell cached by Excel: #DIV/0!.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "活动水平"
    ws.append(ACT_H.split(","))
    ws.append([2022, ACT[1], ACT[2], ACT[3], ACT[4], ACT[5], ACT[6], "=1/0", ACT[8]])
    data = normalise_zip(save(wb))
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                body = re.sub(rb'<c r="H2"[^>]*><f>1/0</f><v\s*/?>(</v>)?',
                              b'<c r="H2" t="e"><f>1/0</f><v>#DIV/0!</v>', body)
            dst.writestr(info, body)
    write("excel/error-cell.xlsx", out.getvalue())

    # Registry with dates as date cells, a date-time and a number where a date belongs.
    import datetime
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "名录"
    ws.append(REG_H.split(","))
    ws.append(REG[:5] + [datetime.date(2022, 9, 30), REG[6]])
    row = list(REG)
    row[0] = "91152525MAWTL29GX3"
    ws.append(row[:5] + [datetime.datetime(2022, 9, 30, 10, 30), ""])
    row[0] = "91130109MAK4GR6066"
    ws.append(row[:5] + [44834, ""])
    write("excel/registry-date-cells.xlsx", normalise_zip(save(wb)))

    # Coefficients: a two-row merged header and a formula cell in the generation column.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "说明"
    ws.append(["示例说明"])
    ws = wb.create_sheet("系数")
    ws.append(COEF_H.split(","))
    ws.append(COEF[:7] + ["=16*1"] + COEF[8:])
    write("excel/coefficients-formula-cell.xlsx",
          cache_formula_values(normalise_zip(save(wb)), {"H2": 16}))

    # A workbook with no sheet holding the table.
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["nothing here"])
    write("excel/no-table.xlsx", normalise_zip(save(wb)))

    # A damaged workbook: the first 2 KiB of a real one.
    write("excel/truncated.xlsx", formulas[:2048])

    # Password-protected (an encrypted OLE compound file, as Excel writes it). The encryption
    # salt is random, so the file is written only when it is missing.
    if os.path.exists(os.path.join(HERE, "excel/password.xlsx")):
        return
    try:
        import msoffcrypto.format.ooxml as ooxml
    except ImportError:
        print("msoffcrypto-tool missing: excel/password.xlsx kept as it is")
        return
    wb = openpyxl.Workbook()
    wb.active.append(ACT_H.split(","))
    wb.active.append(ACT)
    plain = io.BytesIO(normalise_zip(save(wb)))
    encrypted = io.BytesIO()
    ooxml.OOXMLFile(plain).encrypt("secret", encrypted)
    write("excel/password.xlsx", encrypted.getvalue())


# ---------------------------------------------------------------------------------------------
# Legacy workbooks, written byte by byte (no Python package writes these shapes): `.xls` is
# BIFF8 records in the `Workbook` stream of an OLE compound file (MS-XLS, MS-CFB), `.xlsb` is
# BIFF12 records in a ZIP (MS-XLSB).

import struct

ENDOFCHAIN, FREESECT, FATSECT = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD


def cfb(stream, loop_directory=False):
    """An OLE compound file (version 3, 512-byte sectors) holding one stream, `Workbook`.
    The stream is padded to 4 096 bytes so that it lives in ordinary sectors. With
    `loop_directory` the directory's sector chain points back to itself."""
    stream = stream + b"\0" * max(0, 4096 - len(stream))
    stream_sectors = (len(stream) + 511) // 512
    fat_sectors = 1
    while fat_sectors * 128 < fat_sectors + 1 + stream_sectors:
        fat_sectors += 1
    assert fat_sectors <= 109
    directory = fat_sectors
    first = directory + 1
    fat = [FATSECT] * fat_sectors + [directory if loop_directory else ENDOFCHAIN]
    fat += [first + i + 1 for i in range(stream_sectors - 1)] + [ENDOFCHAIN]
    fat += [FREESECT] * (fat_sectors * 128 - len(fat))
    header = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" + b"\0" * 16
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
    header += struct.pack("<IIIIIIIII", 0, fat_sectors, directory, 0, 4096, ENDOFCHAIN, 0,
                          ENDOFCHAIN, 0)
    header += struct.pack("<109I", *(list(range(fat_sectors)) + [FREESECT] * (109 - fat_sectors)))

    def entry(name, kind, start, size, child=FREESECT):
        raw = name.encode("utf-16-le") + b"\0\0"
        return (raw + b"\0" * (64 - len(raw)) + struct.pack("<HBB", len(raw), kind, 1)
                + struct.pack("<III", FREESECT, FREESECT, child) + b"\0" * 36
                + struct.pack("<III", start, size, 0))

    dirs = entry("Root Entry", 5, ENDOFCHAIN, 0, child=1) + entry("Workbook", 2, first, len(stream))
    dirs += b"\0" * (512 - len(dirs))
    body = struct.pack("<%dI" % len(fat), *fat) + dirs + stream
    body += b"\0" * (-len(body) % 512)
    return header + body


def rec(kind, data=b""):
    return struct.pack("<HH", kind, len(data)) + data


def xls(sheets, dimensions=None):
    """A BIFF8 workbook. `sheets` is a list of (name, cells), cells a list of (row, column,
    value), value a str (through the shared string table) or a number. `dimensions` maps a
    sheet's index to the (first row, last row + 1, first column, last column + 1) its
    DIMENSIONS record claims; otherwise the record gives the cells' real extent."""
    strings = []
    for _, cells in sheets:
        for _, _, value in cells:
            if isinstance(value, str) and value not in strings:
                strings.append(value)
    sst = struct.pack("<II", len(strings), len(strings))
    for s in strings:
        sst += struct.pack("<HB", len(s), 1) + s.encode("utf-16-le")
    assert len(sst) <= 8224
    substreams = []
    for index, (name, cells) in enumerate(sheets):
        if dimensions and index in dimensions:
            dims = dimensions[index]
        elif cells:
            dims = (min(r for r, _, _ in cells), max(r for r, _, _ in cells) + 1,
                    min(c for _, c, _ in cells), max(c for _, c, _ in cells) + 1)
        else:
            dims = (0, 0, 0, 0)
        body = rec(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0x0DBB, 0x07CC, 0, 6))
        body += rec(0x0200, struct.pack("<IIHHH", *dims, 0))
        for row, column, value in cells:
            if isinstance(value, str):
                body += rec(0x00FD, struct.pack("<HHHI", row, column, 15, strings.index(value)))
            else:
                body += rec(0x0203, struct.pack("<HHHd", row, column, 15, value))
        substreams.append(body + rec(0x000A))

    def bound_sheets(positions):
        out = b""
        for (name, _), position in zip(sheets, positions):
            out += rec(0x0085, struct.pack("<IBBBB", position, 0, 0, len(name), 1)
                       + name.encode("utf-16-le"))
        return out

    head = rec(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 6))
    head += rec(0x0042, struct.pack("<H", 1200))
    tail = rec(0x00FC, sst) + rec(0x000A)
    globals_len = len(head) + len(bound_sheets([0] * len(sheets))) + len(tail)
    positions, at = [], globals_len
    for body in substreams:
        positions.append(at)
        at += len(body)
    return head + bound_sheets(positions) + tail + b"".join(substreams)


def activity_cells(rows=1):
    cells = [(0, c, h) for c, h in enumerate(ACT_H.split(","))]
    for r in range(1, rows + 1):
        for c, value in enumerate(ACT):
            cells.append((r, c, float(value) if c in (0, 7) else value))
    return cells


def biff12(kind, data=b""):
    """One MS-XLSB record: its type and length as 7-bit groups, then its data."""
    out = bytes([kind]) if kind < 0x80 else bytes([(kind & 0x7F) | 0x80, kind >> 7])
    length = len(data)
    while True:
        byte = length & 0x7F
        length >>= 7
        out += bytes([byte | (0x80 if length else 0)])
        if not length:
            return out + data


def wide(text):
    return struct.pack("<I", len(text)) + text.encode("utf-16-le")


def xlsb(name, cells):
    """An `.xlsb` workbook of one sheet; `cells` as for `xls` (strings inline, BrtCellSt)."""
    dims = (min(r for r, _, _ in cells), max(r for r, _, _ in cells),
            min(c for _, c, _ in cells), max(c for _, c, _ in cells))
    sheet = biff12(0x0081) + biff12(0x0094, struct.pack("<IIII", *dims)) + biff12(0x0091)
    row = None
    for r, c, value in sorted(cells):
        if r != row:
            sheet += biff12(0x0000, struct.pack("<IIHBBB", r, 0, 0x0F0, 0, 0, 0) + b"\0" * 8)
            row = r
        if isinstance(value, str):
            sheet += biff12(0x0006, struct.pack("<II", c, 0) + wide(value))
        else:
            sheet += biff12(0x0005, struct.pack("<IId", c, 0, value))
    sheet += biff12(0x0092) + biff12(0x0082)
    workbook = (biff12(0x0083) + biff12(0x008F)
                + biff12(0x009C, struct.pack("<II", 0, 1) + wide("rId1") + wide(name))
                + biff12(0x0090) + biff12(0x009D, b"\0" * 30) + biff12(0x0084))
    parts = [
        ("[Content_Types].xml", b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
         b'<Default Extension="bin" ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/>'
         b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
         b'<Override PartName="/xl/worksheets/sheet1.bin" ContentType="application/vnd.ms-excel.worksheet"/>'
         b'</Types>'),
        ("_rels/.rels", b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.bin"/>'
         b'</Relationships>'),
        ("xl/workbook.bin", workbook),
        ("xl/_rels/workbook.bin.rels", b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.bin"/>'
         b'</Relationships>'),
        ("xl/worksheets/sheet1.bin", sheet),
    ]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for part, body in parts:
            dst.writestr(zipfile.ZipInfo(part, FIXED_TIME), body, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def legacy_cases():
    table = activity_cells()
    # A good table in each legacy format: read like the same table in .xlsx.
    write("excel/legacy-activity.xls", cfb(xls([("活动水平", table)])))
    write("excel/legacy-activity.xlsb", xlsb("活动水平", table))
    # One more number cell at row 65 536, column 65 536 (BIFF8 cell records allow 16-bit
    # columns, far past Excel's IV), which the DIMENSIONS record leaves out (it claims the
    # table's A1:I2): the sheet's used area is 4.3 billion cells.
    write("excel/xls-far-cell.xls",
          cfb(xls([("活动水平", table + [(65535, 65535, 1.0)])], dimensions={0: (0, 2, 0, 9)})))
    # The table's DIMENSIONS record claims A1:XFD1048576 (17 billion cells), which calamine
    # reserves 40 bytes each for before reading a cell.
    write("excel/xls-dimensions-claim.xls",
          cfb(xls([("活动水平", table)], dimensions={0: (0, 1048576, 0, 16384)})))
    # Four sheets whose used area is a full BIFF8 sheet (A1:IV65536, 16.8 million cells, one
    # number in each corner): calamine reads every sheet of an .xls at open, 512 MiB each.
    corners = [(0, 0, 1.0), (65535, 255, 1.0)]
    write("excel/xls-four-full-sheets.xls",
          cfb(xls([("活动水平", table + corners[1:])]
                  + [("Sheet%d" % i, corners) for i in (2, 3, 4)])))
    # The compound file's directory chain loops: its sector is its own successor.
    write("excel/xls-sector-loop.xls", cfb(xls([("活动水平", table)]), loop_directory=True))
    # An .xlsb sheet with one more cell in XFD1048576: 17 billion cells.
    write("excel/xlsb-far-cell.xlsb", xlsb("活动水平", table + [(1048575, 16383, 1.0)]))


# ---------------------------------------------------------------------------------------------
# OpenDocument spreadsheets, written by hand: a ZIP with `mimetype` stored first, the manifest
# and content.xml (all calamine reads).

from xml.sax.saxutils import escape as xml_escape

ODS_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>'
            '<office:document-content'
            ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
            ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
            ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
            ' office:version="1.3"><office:body><office:spreadsheet>')
ODS_MANIFEST = ('<?xml version="1.0" encoding="UTF-8"?>'
                '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
                ' manifest:version="1.3"><manifest:file-entry manifest:full-path="/"'
                ' manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                '</manifest:manifest>')
ODS_TAIL = '</office:spreadsheet></office:body></office:document-content>'


def ods_cell(value):
    if value is None:
        return '<table:table-cell/>'
    if isinstance(value, float):
        return ('<table:table-cell office:value-type="float" office:value="%s">'
                '<text:p>%s</text:p></table:table-cell>' % (repr(value), repr(value)))
    return ('<table:table-cell office:value-type="string"><text:p>%s</text:p>'
            '</table:table-cell>' % xml_escape(value))


def ods_row(values, tail=''):
    return '<table:table-row>%s%s</table:table-row>' % (''.join(map(ods_cell, values)), tail)


def ods_activity_rows(tail=''):
    return (ods_row(ACT_H.split(","), tail)
            + ods_row([float(v) if c in (0, 7) else v for c, v in enumerate(ACT)], tail))


def ods(sheets, end=ODS_TAIL):
    """An .ods of sheets given as (name, rows XML), content.xml ending with `end`."""
    body = ''.join('<table:table table:name="%s">%s</table:table>' % (xml_escape(name), rows)
                   for name, rows in sheets)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        dst.writestr(zipfile.ZipInfo("mimetype", FIXED_TIME),
                     b"application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        dst.writestr(zipfile.ZipInfo("META-INF/manifest.xml", FIXED_TIME), ODS_MANIFEST,
                     zipfile.ZIP_DEFLATED)
        dst.writestr(zipfile.ZipInfo("content.xml", FIXED_TIME),
                     (ODS_HEAD + body + end).encode("utf-8"), zipfile.ZIP_DEFLATED)
    return out.getvalue()


def ods_cases():
    # The activity table as LibreOffice saves it: each row's empty rest as one cell repeated
    # over the remaining columns, and the sheet's empty rest as one row repeated 1 048 574
    # times. calamine skips both; read.
    empty_rest = '<table:table-cell table:number-columns-repeated="1015"/>'
    empty_rows = ('<table:table-row table:number-rows-repeated="1048574">'
                  '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>')
    write("excel/ods-activity-libreoffice.ods",
          ods([("活动水平", ods_activity_rows(empty_rest) + empty_rows),
               ("Sheet2", empty_rows)]))
    # The table, then two sheets whose one row of a number repeated over 98 columns is itself
    # repeated 500 000 times: 49 million cells each, 98 million together, which calamine makes
    # dense when it opens the file (several GB).
    bomb = ('<table:table-row table:number-rows-repeated="500000">'
            '<table:table-cell office:value-type="float" office:value="1"'
            ' table:number-columns-repeated="98"/></table:table-row>')
    write("excel/ods-repeat-bomb.ods",
          ods([("活动水平", ods_activity_rows())] + [("Sheet%d" % i, bomb) for i in (2, 3)]))
    # Three sheets of 16 million cells each (a number repeated over 16 columns in a row
    # repeated 1 000 000 times): each within the limit, together past it.
    third = ('<table:table-row table:number-rows-repeated="1000000">'
             '<table:table-cell office:value-type="float" office:value="1"'
             ' table:number-columns-repeated="16"/></table:table-row>')
    write("excel/ods-sheets-together.ods",
          ods([("活动水平", ods_activity_rows())]
              + [("Sheet%d" % i, third) for i in (2, 3, 4)]))

    # content.xml ends inside the table: calamine 0.38 reads past the end forever (a hang).
    write("excel/ods-unclosed-table.ods",
          ods([], end='<table:table table:name="活动水平">' + ods_activity_rows()))


if __name__ == "__main__":
    csv_cases()
    workbook_cases()
    legacy_cases()
    ods_cases()
