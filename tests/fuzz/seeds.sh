#!/usr/bin/env bash
# Writes the fuzz targets' seed corpora into tests/fuzz/corpus/<target>/ (not committed) from
# datasets/, coefficients/ and tests/fixtures, each seed prefixed with the target's selector
# bytes (see each target's header). Small seeds only: large files are cut to their first lines.
# Usage: tests/fuzz/seeds.sh [OUT]   (OUT defaults to tests/fuzz/corpus; idempotent)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$here/corpus}"
S="$root/datasets/sample-synthetic"
R="$root/datasets/reference"
F="$root/tests/fixtures"
mkdir -p "$out"/{formula,csv_ingest,xlsx_raw,xlsx_parts,labels_codes,http_bodies}

# seed TARGET NAME SELECTOR_BYTES... < content   (selector bytes as decimal numbers)
seed() {
    local target="$1" name="$2"
    shift 2
    {
        for b in "$@"; do printf "\\x$(printf %02x "$b")"; done
        cat
    } >"$out/$target/$name"
}
# head of a file: at most 40 lines
cut40() { head -n 40 "$1"; }

# 1. formula: texts from the coefficient manuals and the module documentation, with values.
i=0
for f in '16S' '0.00026Aar²+0.0103Aar' '（1－0.15）×Vdaf' '2^3^2' '-2²' '1/2S' '2(1+S)' \
    'S²²²' '0.5Aar²Vdaf' '(1+S)(2)' '16 S' 'S2·硫分' '10^400' '(-8)^(1/3)' '1/(S-S)' \
    '((((((((S))))))))' '2.94' '.5+5.' 'η×(1-k)' 'Ｓ＊２'; do
    printf '%s\0\x00\x00\x00\x00\x00\x00\xf0\x3f\x9a\x99\x99\x99\x99\x99\xb9\x3f' "$f" >"$out/formula/f$i"
    i=$((i + 1))
done

# 2. CSV ingest: one seed per format and file (format numbers: src/lib.rs `read_format`).
csv() { # FORMAT NAME FILE
    cut40 "$3" | seed csv_ingest "$2" "$1" 0
}
csv 0 registry "$S/registry.csv"
csv 0 registry-bad "$F/bad/registry-bad.csv"
csv 1 activity "$S/activity.csv"
csv 1 activity-gbk "$F/sample-activity-gbk.csv"
csv 1 activity-bad "$F/bad/activity-bad.csv"
csv 2 permit "$F/permit-reports.csv"
csv 2 permit-sample "$S/permit_reports.csv"
csv 2 permit-gbk "$F/permit-reports-gbk.csv"
csv 2 permit-bad "$F/bad/permit-reports-bad.csv"
csv 3 coefficients "$root/coefficients/npsc1-excerpt/coefficients.csv"
csv 3 coefficients-bad "$F/bad/coefficients-bad.csv"
printf 'uscc,name,area_code,level,reasons,base_year,note\n91152502MA2BPPBJ0K,示例,150000,province,累计排放量占比,2022,\n' |
    seed csv_ingest keyunits 4 0
csv 5 caps "$S/caps.csv"
printf '污染物,减排目标(%%)\n化学需氧量,8\n氮氧化物,10\n' | seed csv_ingest targets 6 0
csv 7 source-coefficients "$S/categories/source_coefficients.csv"
csv 8 domestic "$S/categories/domestic.csv"
csv 9 livestock "$S/categories/livestock.csv"
csv 10 plants "$S/categories/plants.csv"
csv 11 mobile "$S/categories/mobile.csv"
csv 12 equivalents "$R/pollution_equivalents.csv"
csv 13 rates "$R/tax_rates_2018.csv"
csv 14 item-counts "$R/tax_item_counts.csv"
csv 15 emissions "$S/monitored_emissions.csv"
printf '原行业代码,原产品名称,新行业代码,新产品名称,说明\n1351,冻羊肉,1351,冷冻羊肉,更名\n' |
    seed csv_ingest key-migrations 16 0
csv 17 canonical-rates "$R/tax_rates_2018.csv"
csv 18 canonical-registry "$S/registry.csv"
csv 19 canonical-permit "$F/permit-reports.csv"
csv 20 regions "$R/regions_gbt2260.csv"
csv 21 industries "$R/industries_gbt4754_2017.csv"
csv 22 pollutants "$R/pollutants.csv"
csv 23 equivalents-list "$R/pollution_equivalents.csv"
# The same files as GB18030 where iconv can write them.
if command -v iconv >/dev/null; then
    cut40 "$S/registry.csv" | iconv -f UTF-8 -t GB18030 | seed csv_ingest registry-gb 0 2
    cut40 "$S/categories/plants.csv" | iconv -f UTF-8 -t GB18030 | seed csv_ingest plants-gb 10 0
fi

# 3. Excel: the real workbooks whole (raw), and their members (parts).
seed xlsx_raw registry 0 0 <"$F/sample-registry.xlsx"
seed xlsx_raw activity 1 0 <"$F/sample-activity.xlsx"
seed xlsx_raw permit 2 0 <"$F/permit-reports.xlsx"
# Legacy workbooks (options byte 0x20: .xls, 0x10: .xlsb), written by tests/bad-inputs/make.py.
X="$root/tests/bad-inputs/excel"
seed xlsx_raw legacy-xls 1 32 <"$X/legacy-activity.xls"
seed xlsx_raw legacy-xlsb 1 16 <"$X/legacy-activity.xlsb"
seed xlsx_raw xls-far-cell 1 32 <"$X/xls-far-cell.xls"
seed xlsx_raw xls-sheets 1 32 <"$X/xls-four-full-sheets.xls"
parts() { # FORMAT NAME WORKBOOK: every member but the theme, rows cut to 40
    local tmp
    tmp="$(mktemp -d)"
    python3 -m zipfile -e "$3" "$tmp"
    {
        first=1
        for m in '[Content_Types].xml' _rels/.rels xl/workbook.xml xl/_rels/workbook.xml.rels \
            xl/styles.xml xl/worksheets/sheet1.xml xl/worksheets/sheet2.xml xl/sharedStrings.xml; do
            [ -f "$tmp/$m" ] || continue
            [ $first = 1 ] || printf '\n<!--npsc-part-->\n'
            first=0
            printf '%s\n' "$m"
            if [ "${m#xl/worksheets/}" != "$m" ]; then
                # Keep the sheet's first 40 rows.
                sed -E 's#(</row>)#\1\n#g' "$tmp/$m" | awk 'NR<=40 || /<\/sheetData>/' |
                    sed -E 's#.*(</sheetData>)#\1#' | tr -d '\n'
            else
                cat "$tmp/$m"
            fi
        done
    } | seed xlsx_parts "$2" "$1" 0
    rm -rf "$tmp"
}
if command -v python3 >/dev/null; then
    parts 0 registry "$F/sample-registry.xlsx"
    parts 1 activity "$F/sample-activity.xlsx"
    parts 2 permit "$F/permit-reports.xlsx"
fi

# 4. Labels and codes: `label \0 unit \0 capacity`.
i=0
for t in '≥1500头/天屠宰' '所有规模' '<500头/天' '10-35蒸吨/小时' '≥ 1,500 t/d' '300MW及以上' \
    '千克/吨-产品' '克/头-原料' '万吨/年' 't/h' '152502' '440103' 'C1351' '1351' \
    '91152502MA2BPPBJ0K' '2024-05-31' 'S=1.2; Aar=25' '二氧化硫:湿式除尘脱硫; 颗粒物:袋式除尘' \
    '1e3' '化学需氧量' '?锡林浩特' '?屠宰' 'county' 'npsc1-excerpt@latest'; do
    printf '%s\0吨/年\0\x00\x00\x00\x00\x00\x40\x8f\x40' "$t" >"$out/labels_codes/t$i"
    i=$((i + 1))
done

# 5. HTTP bodies (selector: 0 runs JSON, 1 activity upload, 2 status, 3 note, 4 tax).
{
    printf '{"registry": [{"uscc": "91152502MA2BPPBJ0K", "name": "示例", "region_code": "152502", "industry_code": "1351", "status": "运行"}],'
    printf ' "activity": [{"year": 2022, "uscc": "91152502MA2BPPBJ0K", "unit_id": "MF0001", "industry_code": "1351", "product": "冻羊肉", "raw_material": "羊", "process": "屠宰、分割", "scale": "≥1500头/天屠宰", "treatment": "沉淀分离", "activity": 612000, "activity_unit": "头", "operation_rate": 0.9}]}'
} | seed http_bodies runs-json 0 0
cut40 "$S/activity.csv" | seed http_bodies activity-csv 1 0
cut40 "$F/sample-activity-gbk.csv" | seed http_bodies activity-gbk 1 0
seed http_bodies activity-xlsx 1 48 <"$F/sample-activity.xlsx"
printf '{"status": "closed", "date": "2024-05-31", "note": "closure notice 2024-17", "revision": 3}' |
    seed http_bodies status 2 0
printf '{"note": "revision 2: corrected SO2 rows"}' | seed http_bodies note 3 0
cut40 "$S/monitored_emissions.csv" | seed http_bodies tax-csv 4 0
echo "seeds written to $out: $(find "$out" -type f | wc -l) files, $(du -sh "$out" | cut -f1)"
