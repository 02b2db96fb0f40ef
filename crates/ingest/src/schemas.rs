//! The canonical file formats: for each table, its fields with the English snake_case name and the
//! Chinese headers accepted for it. Field indices are named constants so that readers never
//! depend on column order in the file.

use crate::table::{Field, Schema, Wide};

const fn required(name: &'static str, aliases: &'static [&'static str]) -> Field {
    Field {
        name,
        aliases,
        required: true,
    }
}

const fn optional(name: &'static str, aliases: &'static [&'static str]) -> Field {
    Field {
        name,
        aliases,
        required: false,
    }
}

/// Field indices of [`COEFFICIENT_TABLE`].
pub mod coefficient {
    #![allow(missing_docs)]
    pub const INDUSTRY_CODE: usize = 0;
    pub const SECTION: usize = 1;
    pub const PRODUCT: usize = 2;
    pub const RAW_MATERIAL: usize = 3;
    pub const PROCESS: usize = 4;
    pub const SCALE: usize = 5;
    pub const POLLUTANT: usize = 6;
    pub const UNIT: usize = 7;
    pub const GENERATION_COEFFICIENT: usize = 8;
    pub const TREATMENT: usize = 9;
    pub const REMOVAL_EFFICIENCY: usize = 10;
    pub const EMISSION_COEFFICIENT: usize = 11;
    pub const SOURCE: usize = 12;
}

/// A coefficient table (产排污系数表).
pub static COEFFICIENT_TABLE: Schema = Schema {
    kind: "coefficient table",
    fields: &[
        required("industry_code", &["行业代码", "行业类别代码"]),
        optional("section", &["工段名称", "工段"]),
        required("product", &["产品名称"]),
        required("raw_material", &["原料名称"]),
        required("process", &["工艺名称"]),
        required("scale", &["规模等级"]),
        required("pollutant", &["污染物指标", "污染物名称"]),
        required("unit", &["单位", "计量单位"]),
        required("generation_coefficient", &["产污系数"]),
        required("treatment", &["末端治理技术名称", "末端治理技术"]),
        optional(
            "removal_efficiency",
            &["末端治理技术效率", "去除效率", "去除率"],
        ),
        optional("emission_coefficient", &["排污系数"]),
        optional("source", &["备注", "来源"]),
    ],
    // First-census tables give 排污系数 in one column per treatment: `排污系数(沉淀分离)`.
    wide: Some(Wide {
        value: coefficient::EMISSION_COEFFICIENT,
        key: coefficient::TREATMENT,
    }),
};

/// Field indices of [`REGISTRY`].
pub mod registry {
    #![allow(missing_docs)]
    pub const USCC: usize = 0;
    pub const NAME: usize = 1;
    pub const REGION_CODE: usize = 2;
    pub const INDUSTRY_CODE: usize = 3;
    pub const STATUS: usize = 4;
    pub const STATUS_DATE: usize = 5;
    pub const PERMIT_NO: usize = 6;
}

/// The enterprise registry (排污单位名录).
pub static REGISTRY: Schema = Schema {
    kind: "enterprise registry",
    fields: &[
        required("uscc", &["统一社会信用代码"]),
        required("name", &["单位名称", "企业名称"]),
        required("region_code", &["行政区划代码", "区划代码"]),
        required("industry_code", &["行业代码", "行业类别代码"]),
        required("status", &["运行状态", "状态"]),
        optional("status_date", &["状态日期"]),
        optional("permit_no", &["排污许可证编号", "许可证编号"]),
    ],
    wide: None,
};

/// Field indices of [`ACTIVITY`].
pub mod activity {
    #![allow(missing_docs)]
    pub const YEAR: usize = 0;
    pub const USCC: usize = 1;
    pub const UNIT_ID: usize = 2;
    pub const INDUSTRY_CODE: usize = 3;
    pub const PRODUCT: usize = 4;
    pub const RAW_MATERIAL: usize = 5;
    pub const PROCESS: usize = 6;
    pub const SCALE: usize = 7;
    pub const CAPACITY: usize = 8;
    pub const CAPACITY_UNIT: usize = 9;
    pub const TREATMENT: usize = 10;
    pub const ACTIVITY: usize = 11;
    pub const ACTIVITY_UNIT: usize = 12;
    pub const OPERATION_RATE: usize = 13;
    pub const PARAMETERS: usize = 14;
    pub const OUTLET_ID: usize = 15;
}

/// Activity data (活动水平数据).
pub static ACTIVITY: Schema = Schema {
    kind: "activity data",
    fields: &[
        required("year", &["年份"]),
        required("uscc", &["统一社会信用代码"]),
        optional("unit_id", &["生产单元编号"]),
        optional("industry_code", &["行业代码", "行业类别代码"]),
        required("product", &["产品名称"]),
        required("raw_material", &["原料名称"]),
        required("process", &["工艺名称"]),
        optional("scale", &["规模等级"]),
        optional("capacity", &["生产规模"]),
        optional("capacity_unit", &["规模单位"]),
        optional("treatment", &["末端治理技术名称", "末端治理技术"]),
        required("activity", &["活动水平"]),
        required("activity_unit", &["计量单位"]),
        optional(
            "operation_rate",
            &["治理设施运行率", "治理设施实际运行率", "运行率"],
        ),
        optional("parameters", &["参数"]),
        optional("outlet_id", &["排放口编号"]),
    ],
    wide: None,
};

/// A code list (`code,name,level,parent`): regions and industries.
pub static CODE_LIST: Schema = Schema {
    kind: "code list",
    fields: &[
        required("code", &["代码"]),
        required("name", &["名称"]),
        required("level", &["级别"]),
        required("parent", &["上级代码"]),
    ],
    wide: None,
};

/// Field indices of [`POLLUTANTS`].
pub mod pollutants {
    #![allow(missing_docs)]
    pub const CODE: usize = 0;
    pub const NAME: usize = 1;
    pub const MEDIUM: usize = 2;
    pub const REPORT_UNIT: usize = 3;
    pub const ALIASES: usize = 4;
    pub const TAX_ITEM: usize = 5;
    pub const NOTE: usize = 6;
}

/// npsc's pollutant list.
pub static POLLUTANTS: Schema = Schema {
    kind: "pollutant list",
    fields: &[
        required("code", &["代码"]),
        required("name", &["名称", "污染物"]),
        required("medium", &["介质"]),
        required("report_unit", &["报告单位"]),
        optional("aliases", &["别名"]),
        optional("tax_item", &["应税项目"]),
        optional("note", &["备注"]),
    ],
    wide: None,
};

/// Field indices of [`EQUIVALENTS`].
pub mod equivalents {
    #![allow(missing_docs)]
    pub const MEDIUM: usize = 0;
    pub const CLASS: usize = 1;
    pub const ITEM: usize = 2;
    pub const POLLUTANT: usize = 3;
    pub const EQUIVALENT_VALUE: usize = 4;
    pub const EQUIVALENT_UNIT: usize = 5;
    pub const NOTE: usize = 6;
}

/// The tax law's pollution-equivalent table.
pub static EQUIVALENTS: Schema = Schema {
    kind: "pollution equivalent table",
    fields: &[
        required("medium", &["介质"]),
        required("class", &["类别"]),
        required("item", &["序号"]),
        required("pollutant", &["污染物"]),
        required("equivalent_value", &["污染当量值"]),
        required("equivalent_unit", &["单位"]),
        optional("note", &["备注"]),
    ],
    wide: None,
};

/// Field indices of [`KEY_MIGRATIONS`].
pub mod key_migrations {
    #![allow(missing_docs)]
    pub const FROM_INDUSTRY: usize = 0;
    pub const FROM_PRODUCT: usize = 1;
    pub const FROM_RAW_MATERIAL: usize = 2;
    pub const FROM_PROCESS: usize = 3;
    pub const FROM_SCALE: usize = 4;
    pub const TO_INDUSTRY: usize = 5;
    pub const TO_PRODUCT: usize = 6;
    pub const TO_RAW_MATERIAL: usize = 7;
    pub const TO_PROCESS: usize = 8;
    pub const TO_SCALE: usize = 9;
    pub const NOTE: usize = 10;
}

/// Key changes an edition declares against earlier ones (products renamed, industries split).
pub static KEY_MIGRATIONS: Schema = Schema {
    kind: "key migration table",
    fields: &[
        optional("from_industry_code", &["原行业代码"]),
        optional("from_product", &["原产品名称"]),
        optional("from_raw_material", &["原原料名称"]),
        optional("from_process", &["原工艺名称"]),
        optional("from_scale", &["原规模等级"]),
        optional("to_industry_code", &["新行业代码"]),
        optional("to_product", &["新产品名称"]),
        optional("to_raw_material", &["新原料名称"]),
        optional("to_process", &["新工艺名称"]),
        optional("to_scale", &["新规模等级"]),
        required("note", &["说明", "备注"]),
    ],
    wide: None,
};

/// Field indices of [`PERMIT_REPORTS`].
pub mod permit_reports {
    #![allow(missing_docs)]
    pub const USCC: usize = 0;
    pub const PERMIT_NO: usize = 1;
    pub const OUTLET_ID: usize = 2;
    pub const OUTLET_KIND: usize = 3;
    pub const POLLUTANT: usize = 4;
    pub const PERIOD: usize = 5;
    pub const REPORTED: usize = 6;
    pub const UNIT: usize = 7;
    pub const METHOD: usize = 8;
    pub const CAPTURE_RATE: usize = 9;
    pub const CAPTURE_RATE_Q1: usize = 10;
    pub const CAPTURE_RATE_Q2: usize = 11;
    pub const CAPTURE_RATE_Q3: usize = 12;
    pub const CAPTURE_RATE_Q4: usize = 13;
    pub const PERMITTED: usize = 14;
}

/// Permit execution reports (排污许可证执行报告, 实际排放量): one line per enterprise, outlet,
/// pollutant and period. The quarterly capture-rate headers are listed whole
/// (`有效数据捕集率(一季度)`), so that they are not read as `有效数据捕集率` with a note.
pub static PERMIT_REPORTS: Schema = Schema {
    kind: "permit execution report",
    fields: &[
        optional("uscc", &["统一社会信用代码"]),
        optional("permit_no", &["排污许可证编号", "许可证编号"]),
        optional("outlet_id", &["排放口编号", "排污口编号"]),
        optional("outlet_kind", &["排放口类型", "排污口类型"]),
        required("pollutant", &["污染物", "污染物种类", "污染物名称"]),
        required("period", &["核算时段", "时段", "报告时段", "报告期"]),
        required("reported", &["实际排放量"]),
        optional("unit", &["单位", "计量单位"]),
        required("method", &["核算方法", "实际排放量核算方法"]),
        optional(
            "capture_rate",
            &["有效数据捕集率", "自动监测有效数据捕集率", "数据捕集率"],
        ),
        optional(
            "capture_rate_q1",
            &[
                "有效数据捕集率(一季度)",
                "有效数据捕集率(第一季度)",
                "有效数据捕集率(1季度)",
                "有效数据捕集率(Q1)",
                "一季度有效数据捕集率",
            ],
        ),
        optional(
            "capture_rate_q2",
            &[
                "有效数据捕集率(二季度)",
                "有效数据捕集率(第二季度)",
                "有效数据捕集率(2季度)",
                "有效数据捕集率(Q2)",
                "二季度有效数据捕集率",
            ],
        ),
        optional(
            "capture_rate_q3",
            &[
                "有效数据捕集率(三季度)",
                "有效数据捕集率(第三季度)",
                "有效数据捕集率(3季度)",
                "有效数据捕集率(Q3)",
                "三季度有效数据捕集率",
            ],
        ),
        optional(
            "capture_rate_q4",
            &[
                "有效数据捕集率(四季度)",
                "有效数据捕集率(第四季度)",
                "有效数据捕集率(4季度)",
                "有效数据捕集率(Q4)",
                "四季度有效数据捕集率",
            ],
        ),
        optional("permitted", &["许可排放量", "年许可排放量"]),
    ],
    wide: None,
};

/// Field indices of [`TAX_RATES`].
pub mod tax_rates {
    #![allow(missing_docs)]
    pub const REGION_CODE: usize = 0;
    pub const REGION_NAME: usize = 1;
    pub const MEDIUM: usize = 2;
    pub const POLLUTANT: usize = 3;
    pub const YUAN: usize = 4;
    pub const EFFECTIVE_FROM: usize = 5;
    pub const NOTE: usize = 6;
}

/// Environmental protection tax amounts (元 per pollution equivalent) by region, medium and item
/// (`*` = every item of the medium), in force from a date.
pub static TAX_RATES: Schema = Schema {
    kind: "tax rate table",
    fields: &[
        required("region_code", &["行政区划代码", "区划代码"]),
        optional("region_name", &["行政区划名称", "地区"]),
        required("medium", &["介质"]),
        required("pollutant", &["污染物", "应税污染物"]),
        required("yuan_per_equivalent", &["税额", "税额标准", "适用税额"]),
        required("effective_from", &["执行日期", "施行日期", "生效日期"]),
        optional("note", &["备注"]),
    ],
    wide: None,
};

/// Field indices of [`TAX_ITEM_COUNTS`].
pub mod tax_item_counts {
    #![allow(missing_docs)]
    pub const REGION_CODE: usize = 0;
    pub const REGION_NAME: usize = 1;
    pub const AIR: usize = 2;
    pub const WATER_CLASS_ONE: usize = 3;
    pub const WATER_OTHER: usize = 4;
    pub const EFFECTIVE_FROM: usize = 5;
    pub const NOTE: usize = 6;
}

/// How many items are taxed per outlet (环境保护税法 Art. 9: air 3, water class I 5, other water
/// 3; a province may raise them) by region, in force from a date.
pub static TAX_ITEM_COUNTS: Schema = Schema {
    kind: "tax item count table",
    fields: &[
        required("region_code", &["行政区划代码", "区划代码"]),
        optional("region_name", &["行政区划名称", "地区"]),
        required(
            "air_items",
            &["大气污染物项目数", "应税大气污染物项目数", "大气项目数"],
        ),
        required(
            "water_class_one_items",
            &[
                "第一类水污染物项目数",
                "应税第一类水污染物项目数",
                "第一类水项目数",
            ],
        ),
        required(
            "water_other_items",
            &[
                "其他类水污染物项目数",
                "应税其他类水污染物项目数",
                "其他类水项目数",
            ],
        ),
        required("effective_from", &["执行日期", "施行日期", "生效日期"]),
        optional("note", &["备注", "依据"]),
    ],
    wide: None,
};

/// Field indices of [`MONITORED_EMISSIONS`].
pub mod monitored_emissions {
    #![allow(missing_docs)]
    pub const USCC: usize = 0;
    pub const OUTLET_ID: usize = 1;
    pub const POLLUTANT: usize = 2;
    pub const MONTH: usize = 3;
    pub const KG: usize = 4;
    pub const CONCENTRATION: usize = 5;
    pub const STANDARD: usize = 6;
    pub const EXCEEDED: usize = 7;
    pub const EXEMPTION: usize = 8;
}

/// Monitored monthly emissions per outlet and pollutant (kg), with the monthly mean
/// concentration, the standard, whether an hourly (air) or daily (water) value exceeded it, and
/// the Art. 12 exemption the line declares (`agriculture`, `mobile`, `centralized-treatment`,
/// `other`, or the law's Chinese wording).
pub static MONITORED_EMISSIONS: Schema = Schema {
    kind: "monitored emissions",
    fields: &[
        required("uscc", &["统一社会信用代码"]),
        required("outlet_id", &["排放口编号", "排污口编号"]),
        required("pollutant", &["污染物", "污染物名称"]),
        required("month", &["月份", "所属月份"]),
        required("kg", &["排放量(千克)", "排放量（千克）", "排放量"]),
        optional("concentration", &["月均浓度", "浓度"]),
        optional("standard", &["排放标准", "标准限值"]),
        optional("exceeded", &["是否超标", "超标"]),
        optional("exemption", &["免征依据", "免征情形", "免税情形"]),
    ],
    wide: None,
};

/// Total-load caps (总量控制指标): one line per region, pollutant and year, in tonnes.
pub static CAPS: Schema = Schema {
    kind: "total-load cap",
    fields: &[
        required("region", &["行政区划代码", "区划代码", "地区代码"]),
        required("pollutant", &["污染物", "污染物名称", "污染物种类"]),
        required("year", &["年份", "年度"]),
        required("cap", &["总量控制指标", "总量指标", "控制指标"]),
    ],
    wide: None,
};

/// Field indices of [`CAPS`].
pub mod caps {
    #![allow(missing_docs)]
    pub const REGION: usize = 0;
    pub const POLLUTANT: usize = 1;
    pub const YEAR: usize = 2;
    pub const CAP: usize = 3;
}

/// Reduction targets against a base year: one line per pollutant, in percent.
pub static TARGETS: Schema = Schema {
    kind: "reduction target",
    fields: &[
        required("pollutant", &["污染物", "污染物名称", "污染物种类"]),
        required(
            "reduction",
            &["减排目标", "削减目标", "减排比例", "削减比例"],
        ),
    ],
    wide: None,
};

/// Field indices of [`TARGETS`].
pub mod targets {
    #![allow(missing_docs)]
    pub const POLLUTANT: usize = 0;
    pub const REDUCTION: usize = 1;
}
